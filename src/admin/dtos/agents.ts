import { IsBoolean, IsDefined, IsEmail, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { MAX_LIST_LIMIT } from '../../keys/api_keys.js';
import { NAME_MAX_LENGTH } from '../../keys/key_settings.js';
import { KeyOptionsBody } from './keys.js';
import { IsOmittable, IsWholeNumberText } from './validators.js';

/** `POST /admin/agents`: the agent and the options of its first key, like `agent:create`. */
export class CreateAgentBody extends KeyOptionsBody {
  @MaxLength(NAME_MAX_LENGTH) @IsString() @IsDefined()
  name: string;

  /** The agent's contact, inherited by its keys. */
  @IsOptional() @IsEmail() @MaxLength(254) @IsString()
  contact_email?: string | null;

  /** A label for the first key (default `default`). */
  @IsOmittable() @MaxLength(NAME_MAX_LENGTH) @IsString()
  key_name?: string;

  /** True: the first credential is the agent access token (`agt_…`) instead of an `ak_` key. */
  @IsOmittable() @IsBoolean()
  with_token?: boolean;
}

/** `GET /admin/agents`. */
export class ListAgentsQuery {
  @IsOmittable() @IsIn(['active', 'revoked']) @IsString()
  status?: 'active' | 'revoked';

  @IsOmittable() @IsWholeNumberText({ min: 1, max: MAX_LIST_LIMIT })
  limit?: string;
}
