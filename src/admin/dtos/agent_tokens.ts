import { IsEmail, IsOptional, IsString, MaxLength } from 'class-validator';
import { NAME_MAX_LENGTH } from '../../keys/key_settings.js';
import { KeyOptionsBody } from './keys.js';
import { IsOmittable } from './validators.js';

/** `POST /admin/agents/:id/token`: the options of a key (env must be `live` if given). */
export class AgentTokenBody extends KeyOptionsBody {
  /** Default `API access`. */
  @IsOmittable() @MaxLength(NAME_MAX_LENGTH) @IsString()
  name?: string;

  /** Defaults to the agent's contact. */
  @IsOptional() @IsEmail() @MaxLength(254) @IsString()
  contact_email?: string | null;
}
