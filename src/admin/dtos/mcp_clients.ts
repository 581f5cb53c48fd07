import { IsDefined, IsInt, IsString, Max, MaxLength, Min } from 'class-validator';
import { IsOmittable } from './validators.js';

/** `POST /admin/registration-tokens`: `client:registration-token --ttl`. */
export class IssueRegistrationTokenBody {
  /** Seconds the token may be used (default one day, at most 30 days). */
  @IsOmittable() @Max(30 * 86_400) @Min(60) @IsInt()
  ttl_seconds?: number;
}

/** `POST /admin/metadata-clients/block` and `/unblock`: `client:block URL`, `client:unblock URL`. */
export class MetadataClientBody {
  /** The client's client_id: the https URL of its metadata document. */
  @MaxLength(191) @IsString() @IsDefined()
  client_id: string;
}
