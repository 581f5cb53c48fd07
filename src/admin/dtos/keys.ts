import { Type } from 'class-transformer';
import { IsDefined, IsEmail, IsIn, IsInt, IsISO8601, IsObject, IsOptional, IsString, MaxLength, Min, ValidateNested } from 'class-validator';
import { MAX_LIST_LIMIT } from '../../keys/api_keys.js';
import type { KeyOptionsInput } from '../../keys/index.js';
import { NAME_MAX_LENGTH } from '../../keys/key_settings.js';
import { MAX_ALLOW_LIST_ENTRIES } from '../../keys/ip_allow_list.js';
import { ACCESS_TYPES, KEY_ENVS } from '../../keys/scopes.js';
import { IsOmittable, IsSecondsOrDuration, IsStringOrStringList, IsWholeNumberText } from './validators.js';

/** The same shape as `rate_limit` in a key's JSON; a field left out (or null) keeps the default. */
export class RateLimitBody {
  @IsOptional() @Min(1) @IsInt()
  per_minute?: number | null;

  @IsOptional() @Min(1) @IsInt()
  per_hour?: number | null;

  @IsOptional() @Min(1) @IsInt()
  burst?: number | null;
}

/**
 * The options of a new key, as `key:create` / `agent:create` take them (snake_case). Scopes and
 * allow lists may be lists or comma-separated strings, durations seconds or `90d`.
 */
export class KeyOptionsBody {
  @IsOmittable() @IsStringOrStringList({ maxItems: 64, maxLength: 64 })
  scopes?: string[] | string;

  @IsOmittable() @IsIn(KEY_ENVS) @IsString()
  env?: string;

  @IsOmittable() @IsIn(ACCESS_TYPES) @IsString()
  access_type?: string;

  @IsOmittable() @IsSecondsOrDuration()
  expires_in?: number | string;

  @IsOmittable() @IsISO8601({ strict: true }) @MaxLength(64) @IsString()
  expires_at?: string;

  @IsOmittable() @IsStringOrStringList({ maxItems: MAX_ALLOW_LIST_ENTRIES, maxLength: 64 })
  allow_ips?: string[] | string;

  @IsOptional() @Type(() => RateLimitBody) @ValidateNested() @IsObject()
  rate_limit?: RateLimitBody | null;
}

/** `POST /admin/keys`. */
export class CreateKeyBody extends KeyOptionsBody {
  @MaxLength(64) @IsString() @IsDefined()
  agent_id: string;

  @IsOmittable() @MaxLength(NAME_MAX_LENGTH) @IsString()
  name?: string;

  /** Defaults to the agent's contact. */
  @IsOptional() @IsEmail() @MaxLength(254) @IsString()
  contact_email?: string | null;
}

/** `POST /admin/keys/:id/rotate`. */
export class RotateKeyBody {
  /** How long the old key keeps working: seconds or `24h`; 0 revokes it at once. Default 24 h. */
  @IsOmittable() @IsSecondsOrDuration()
  grace?: number | string;
}

/** `GET /admin/keys`. */
export class ListKeysQuery {
  @IsOmittable() @MaxLength(64) @IsString()
  agent_id?: string;

  @IsOmittable() @IsWholeNumberText({ min: 1, max: MAX_LIST_LIMIT })
  limit?: string;
}

/** The domain's input from a validated body (the domain then judges scopes, CIDRs, durations). */
export function keyOptions(body: KeyOptionsBody, extra: { name?: string; contactEmail?: string | null } = {}): KeyOptionsInput {
  const rateLimit = body.rate_limit ?? undefined;
  return {
    name: extra.name,
    scopes: body.scopes,
    accessType: body.access_type,
    env: body.env,
    expiresIn: body.expires_in,
    expiresAt: body.expires_at,
    ipAllowList: body.allow_ips,
    rateLimit: rateLimit ? { perMinute: rateLimit.per_minute, perHour: rateLimit.per_hour, burst: rateLimit.burst } : undefined,
    contactEmail: extra.contactEmail,
  };
}
