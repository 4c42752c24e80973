/**
 * Everything the S3 store takes from the AWS SDK, in one module that s3.ts imports on first use: the SDK
 * adds about 35 MiB and 250 ms to a process, which file:// and Azure users should not pay.
 */
export {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
export { uploadMultipart } from "./s3_multipart.ts";
export { createS3Clients } from "./s3_client.ts";
