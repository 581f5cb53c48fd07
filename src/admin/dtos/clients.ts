import { IsBoolean, IsDefined, IsObject, IsString, MaxLength } from 'class-validator';
import type { NewClient } from '../../clients/client_service.js';
import { IsBoundedStringList, IsOmittable, IsStringOrStringList } from './validators.js';

/** `POST /admin/clients`, the fields of `client:create` (snake_case, as the client's JSON shows them). */
export class CreateClientBody {
  @MaxLength(128) @IsString() @IsDefined()
  name: string;

  /** `authorization_code`, `client_credentials`, `refresh_token`, `token_exchange` (or the OAuth values). */
  @IsBoundedStringList({ maxItems: 8, maxLength: 64 }) @IsDefined()
  grant_types: string[];

  @IsOmittable() @IsBoundedStringList({ maxItems: 20, maxLength: 2000 })
  redirect_uris?: string[];

  @IsOmittable() @IsBoundedStringList({ maxItems: 20, maxLength: 2000 })
  post_logout_redirect_uris?: string[];

  /** A list or one space/comma-separated string. */
  @IsOmittable() @IsStringOrStringList({ maxItems: 50, maxLength: 64 })
  scopes?: string[] | string;

  @IsOmittable() @IsBoolean()
  'public'?: boolean;

  /** Public keys for private_key_jwt client authentication. */
  @IsOmittable() @IsObject()
  jwks?: { keys: Array<Record<string, unknown>> };

  @IsOmittable() @MaxLength(2000) @IsString()
  jwks_uri?: string;

  /** RFC 9449: every token request of this client must carry a DPoP proof. */
  @IsOmittable() @IsBoolean()
  require_dpop?: boolean;

  /** RFC 9126: authorization requests only through the PAR endpoint (authorization_code clients). */
  @IsOmittable() @IsBoolean()
  require_pushed_authorization_requests?: boolean;
}

function list(value: string[] | string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return (typeof value === 'string' ? value.split(/[\s,]+/) : value).map((item) => item.trim()).filter(Boolean);
}

export function newClient(body: CreateClientBody): NewClient {
  return {
    name: body.name,
    grantTypes: body.grant_types,
    redirectUris: body.redirect_uris,
    postLogoutRedirectUris: body.post_logout_redirect_uris,
    scopes: list(body.scopes),
    public: body.public ?? false,
    jwks: body.jwks,
    jwksUri: body.jwks_uri,
    requireDpop: body.require_dpop ?? false,
    requirePar: body.require_pushed_authorization_requests ?? false,
  };
}
