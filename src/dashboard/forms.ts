import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';

/**
 * The dashboard's form bodies. Only shape is checked here (strings, sane lengths, no unknown
 * fields: a 400 page otherwise); what the values mean is validated by the domain services, which
 * give the per-field messages. Limits are generous on purpose so that a long name reaches the
 * service and gets its "at most 100 characters" next to the field instead of a bare 400.
 */

export class CsrfOnlyForm {
  @IsString() @MaxLength(128) csrf: string;
}

export class SignInForm {
  @IsString() @MaxLength(128) csrf: string;
  @IsOptional() @IsString() @MaxLength(1000) email?: string;
  @IsOptional() @IsString() @MaxLength(1024) password?: string;
  @IsOptional() @IsString() @MaxLength(1000) next?: string;
}

export class NewAgentForm {
  @IsString() @MaxLength(128) csrf: string;
  @IsOptional() @IsString() @MaxLength(1000) name?: string;
  @IsOptional() @IsString() @MaxLength(1000) contact_email?: string;
}

export class NewKeyForm {
  @IsString() @MaxLength(128) csrf: string;
  @IsOptional() @IsString() @MaxLength(1000) name?: string;
  @IsOptional() @IsString() @MaxLength(1000) contact_email?: string;
  @IsOptional() @IsString() @MaxLength(100) access_type?: string;
  /** Checkboxes: one value or several. */
  @IsOptional() @IsString({ each: true }) @MaxLength(100, { each: true }) scopes?: string | string[];
  @IsOptional() @IsString() @MaxLength(100) env?: string;
  @IsOptional() @IsString() @MaxLength(100) expires_in?: string;
  @IsOptional() @IsString() @MaxLength(10_000) ip_allow_list?: string;
  @IsOptional() @IsString() @MaxLength(100) rate_limit_per_minute?: string;
  @IsOptional() @IsString() @MaxLength(100) rate_limit_per_hour?: string;
  @IsOptional() @IsString() @MaxLength(100) rate_limit_burst?: string;
}

export class RotateKeyForm {
  @IsString() @MaxLength(128) csrf: string;
  @IsOptional() @IsString() @MaxLength(100) grace?: string;
}

/** A destructive action's second step: the confirmation page posts `confirm=yes`. */
export class ConfirmForm {
  @IsString() @MaxLength(128) csrf: string;
  @IsOptional() @IsIn(['yes']) confirm?: 'yes';
}

export class NewClientForm {
  @IsString() @MaxLength(128) csrf: string;
  @IsOptional() @IsString() @MaxLength(1000) name?: string;
  @IsOptional() @IsString({ each: true }) @MaxLength(100, { each: true }) grant_types?: string | string[];
  @IsOptional() @IsString() @MaxLength(40_000) redirect_uris?: string;
  @IsOptional() @IsString() @MaxLength(2000) scopes?: string;
  @IsOptional() @IsIn(['1']) public?: '1';
}

/** One checkbox value or several, as a list. */
export function asList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
