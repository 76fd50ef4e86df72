// Kysely's view of Endpoint's tables, generated from db/migrations by `bun run cli db types`: do not edit by hand.
// Column names are used as they are (snake_case) everywhere above db/, so one grep finds the column, its type and
// every query that touches it. Doc lines, insert-only columns and JSON shapes come from SCHEMA_NOTES in
// db/introspect.ts; `bun run cli migrate check` fails when this file no longer matches the migrations.
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from "kysely";

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface UserTable {
  id: Generated<string>;
  /** Kept as typed; unique without regard to case (index on lower(username)). */
  username: string;
  /** argon2id, from Bun.password. */
  password_hash: string;
  disabled: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  email: string | null;
}

export interface GroupTable {
  id: Generated<string>;
  name: string;
  description: Generated<string>;
  created_at: CreatedAt;
}

export interface GroupMemberTable {
  group_id: string;
  user_id: string;
  created_at: CreatedAt;
}

export interface SessionTable {
  /** SHA-256 (hex) of the random id in the cookie; the id itself is never stored. */
  id_hash: string;
  user_id: string;
  csrf_token: string;
  created_at: CreatedAt;
  last_seen_at: ColumnType<Date, Date | string | undefined, Date | string>;
  /** When the user last typed their password (for sudo mode). */
  authenticated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  client_address: string | null;
  user_agent: string | null;
}

export interface ApiTokenTable {
  /** The token's jti. */
  id: Generated<string>;
  user_id: string;
  name: string;
  /** Route names the token may call; null = any route its owner's groups allow. */
  routes: string[] | null;
  created_at: CreatedAt;
  expires_at: Timestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  /** The token that created this one (a child never outlives or outranks it, and is revoked with it). */
  parent_id: ColumnType<string | null, string | null | undefined, never>;
}

export interface LoginThrottleTable {
  /** "user:<lowercased name>" or "address:<ip>". */
  key: string;
  failures: Generated<number>;
  window_started_at: ColumnType<Date, Date | string | undefined, Date | string>;
  locked_until: NullableTimestamp;
}

export interface AuditLogTable {
  id: Generated<string>;
  at: CreatedAt;
  /** Who did it: a username, or "cli:<os user>" for the command line. */
  actor: string;
  /** cli | web | api */
  source: string;
  action: string;
  target: string;
  client_address: string | null;
  detail: ColumnType<Record<string, unknown>, string | Record<string, unknown> | undefined, never>;
}

export interface EventTable {
  id: Generated<string>;
  received_at: CreatedAt;
  source: string;
  kind: string;
  payload: ColumnType<unknown, unknown, never>;
}

export interface MfaSecretTable {
  user_id: string;
  secret_encrypted: string;
  confirmed_at: NullableTimestamp;
  last_step: number | null;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface MfaRecoveryCodeTable {
  id: Generated<string>;
  user_id: string;
  code_hash: string;
  used_at: NullableTimestamp;
}

export interface MfaChallengeTable {
  id_hash: string;
  user_id: string;
  purpose: string;
  next: string;
  expires_at: Timestamp;
}

export interface PasswordResetTable {
  token_hash: string;
  user_id: string;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  created_by: string;
}

export interface ResetRequestThrottleTable {
  key: string;
  requests: Generated<number>;
  window_started_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface RateLimitGrantTable {
  /** SHA-256 (hex) of route, policy and key (token, user, address or route): no address or token id is stored. */
  bucket: string;
  window_start: Timestamp;
  window_end: Timestamp;
  /** Permits handed to instances in this window, all instances together; never more than the limit. */
  granted: number;
  /** How many the latest request for permits received (read back by that request). */
  last_grant: Generated<number>;
}

export interface Database {
  users: UserTable;
  groups: GroupTable;
  group_members: GroupMemberTable;
  sessions: SessionTable;
  api_tokens: ApiTokenTable;
  login_throttle: LoginThrottleTable;
  audit_log: AuditLogTable;
  events: EventTable;
  mfa_secrets: MfaSecretTable;
  mfa_recovery_codes: MfaRecoveryCodeTable;
  mfa_challenges: MfaChallengeTable;
  password_resets: PasswordResetTable;
  reset_request_throttle: ResetRequestThrottleTable;
  rate_limit_grants: RateLimitGrantTable;
}

export type User = Selectable<UserTable>;
export type NewUser = Insertable<UserTable>;
export type UserUpdate = Updateable<UserTable>;
export type Group = Selectable<GroupTable>;
export type NewGroup = Insertable<GroupTable>;
export type GroupUpdate = Updateable<GroupTable>;
export type GroupMember = Selectable<GroupMemberTable>;
export type NewGroupMember = Insertable<GroupMemberTable>;
export type GroupMemberUpdate = Updateable<GroupMemberTable>;
export type Session = Selectable<SessionTable>;
export type NewSession = Insertable<SessionTable>;
export type SessionUpdate = Updateable<SessionTable>;
export type ApiToken = Selectable<ApiTokenTable>;
export type NewApiToken = Insertable<ApiTokenTable>;
export type ApiTokenUpdate = Updateable<ApiTokenTable>;
export type LoginThrottle = Selectable<LoginThrottleTable>;
export type NewLoginThrottle = Insertable<LoginThrottleTable>;
export type LoginThrottleUpdate = Updateable<LoginThrottleTable>;
export type AuditLog = Selectable<AuditLogTable>;
export type NewAuditLog = Insertable<AuditLogTable>;
export type AuditLogUpdate = Updateable<AuditLogTable>;
export type Event = Selectable<EventTable>;
export type NewEvent = Insertable<EventTable>;
export type EventUpdate = Updateable<EventTable>;
export type MfaSecret = Selectable<MfaSecretTable>;
export type NewMfaSecret = Insertable<MfaSecretTable>;
export type MfaSecretUpdate = Updateable<MfaSecretTable>;
export type MfaRecoveryCode = Selectable<MfaRecoveryCodeTable>;
export type NewMfaRecoveryCode = Insertable<MfaRecoveryCodeTable>;
export type MfaRecoveryCodeUpdate = Updateable<MfaRecoveryCodeTable>;
export type MfaChallenge = Selectable<MfaChallengeTable>;
export type NewMfaChallenge = Insertable<MfaChallengeTable>;
export type MfaChallengeUpdate = Updateable<MfaChallengeTable>;
export type PasswordReset = Selectable<PasswordResetTable>;
export type NewPasswordReset = Insertable<PasswordResetTable>;
export type PasswordResetUpdate = Updateable<PasswordResetTable>;
export type ResetRequestThrottle = Selectable<ResetRequestThrottleTable>;
export type NewResetRequestThrottle = Insertable<ResetRequestThrottleTable>;
export type ResetRequestThrottleUpdate = Updateable<ResetRequestThrottleTable>;
export type RateLimitGrant = Selectable<RateLimitGrantTable>;
export type NewRateLimitGrant = Insertable<RateLimitGrantTable>;
export type RateLimitGrantUpdate = Updateable<RateLimitGrantTable>;
