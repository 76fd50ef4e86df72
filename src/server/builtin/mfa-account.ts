// The account page's two-step sign-in forms: start enrolling (the QR code and the secret as text) and confirm it
// with a code (the recovery codes are shown this once). Mounted with the other account routes, whose page they render.
import { confirmEnrolment, enrolmentSecret } from "../../accounts/mfa.ts";
import { otpauthUri } from "../../accounts/totp.ts";
import type { Principal } from "../../auth/principal.ts";
import type { Config } from "../../config/schema.ts";
import { type HandlerContext, defineHandler } from "../../handlers/define-handler.ts";
import type { HtmlPage } from "../../handlers/html.ts";
import type { AccountPageProps } from "../../pages/account-page.tsx";
import { qrModules } from "../../pages/qr-code.ts";
import { type RouteSpec, signedIn } from "../route.ts";
import { ISSUER } from "./mfa-login.ts";

type Context = HandlerContext<unknown, unknown, unknown, Principal>;
type Render = (context: Context, extra?: Partial<AccountPageProps>, status?: number) => Promise<HtmlPage>;
type Attempt = (context: Context, action: () => Promise<Partial<AccountPageProps> | HtmlPage | Response>) => Promise<HtmlPage | Response>;

export function mfaAccountRoutes(_config: Config, render: Render, attempt: Attempt): RouteSpec[] {
  const bySession = signedIn(["session"]);
  /** The enrolment panel's props for the caller (the same secret until confirmed). */
  const enrolment = async (context: Context) => {
    const secret = await enrolmentSecret(context.services.db, context.services.mfaKeys, context.caller);
    const uri = otpauthUri(ISSUER, context.caller.username, secret);
    return { secret, uri, qr: qrModules(uri), action: "/account/mfa/confirm", csrfToken: context.session!.csrfToken };
  };
  return [
    {
      name: "account-mfa-enrol",
      method: "POST",
      path: "/account/mfa/enrol",
      access: bySession,
      description: "Start turning on two-step sign-in: a QR code and the secret as text",
      handler: defineHandler({
        signedIn: true,
        handle: (context) => attempt(context, async () => ({ enrolment: await enrolment(context) })),
      }),
    },
    {
      name: "account-mfa-confirm",
      method: "POST",
      path: "/account/mfa/confirm",
      access: bySession,
      description: "Turn on two-step sign-in with a code from the app (recovery codes shown once)",
      handler: defineHandler({
        signedIn: true,
        handle: (context) =>
          attempt(context, async () => {
            const code = (context.form?.get("code") ?? "").trim();
            try {
              const codes = await confirmEnrolment(context.services.db, context.services.mfaKeys, context.actor, context.caller, code);
              return { recoveryCodes: codes, notice: "Two-step sign-in is on." };
            } catch (error) {
              // A wrong code: the same panel again, with the reason.
              if (error instanceof Error && "code" in error && error.code === "mfa_wrong_code")
                return render(context, { enrolment: await enrolment(context), error: error.message }, 422);
              throw error;
            }
          }),
      }),
    },
  ];
}
