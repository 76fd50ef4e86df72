/** @jsxImportSource @kitajs/html */
// Two-step sign-in pages: the code form after a right password, the enrolment panel (QR code, the secret as text,
// a code to confirm; on /account and at a sign-in that must enrol) and the recovery codes, shown once.
import { Layout } from "./layout.tsx";
import { Messages } from "./parts.tsx";

/** The second step of sign-in: a code from the app, or a recovery code. */
export function MfaCodePage({ csrfToken, error }: { csrfToken: string; error?: string }): JSX.Element {
  return (
    <Layout title="Two-step sign-in">
      <h1>Enter your code</h1>
      <Messages error={error} />
      <form class="stack" method="post" action="/login/mfa">
        <input type="hidden" name="_csrf" value={csrfToken} />
        <label>
          The 6-digit code from your authenticator app, or one of your recovery codes
          <input name="code" autocomplete="one-time-code" inputmode="text" required maxlength="64" autofocus />
        </label>
        <button type="submit">Sign in</button>
      </form>
      <p class="muted">Lost your phone and your recovery codes? An administrator can turn two-step sign-in off for you.</p>
    </Layout>
  );
}

export interface EnrolmentProps {
  /** Base32, as the app's "enter a setup key" asks for it. */
  secret: string;
  /** otpauth://… — what the QR code holds. */
  uri: string;
  /** The QR code's modules (true = dark), when a QR encoder is available. */
  qr?: boolean[][];
  action: string;
  csrfToken: string;
}

/** Scan (or type) the secret, then prove it with a code. */
export function EnrolmentPanel({ secret, uri, qr, action, csrfToken }: EnrolmentProps): JSX.Element {
  return (
    <section class="mfa-enrol stack">
      <p>Scan this with an authenticator app (such as FreeOTP, Aegis or Google Authenticator), then enter the code it shows.</p>
      {qr ? <QrCode modules={qr} /> : ""}
      <p>
        Or type this setup key: <code class="mfa-secret" safe>{secret.match(/.{1,4}/g)!.join(" ")}</code>
      </p>
      <p>
        <a href={uri}>
          Open in an authenticator app on this device
        </a>
      </p>
      <form class="stack" method="post" action={action}>
        <input type="hidden" name="_csrf" value={csrfToken} />
        <label>
          The 6-digit code from the app
          <input name="code" autocomplete="one-time-code" inputmode="numeric" pattern="[0-9 ]{6,7}" required maxlength="7" />
        </label>
        <button type="submit">Turn on two-step sign-in</button>
      </form>
    </section>
  );
}

/**
 * A QR code drawn inline as SVG (one path of unit squares, a 4-module quiet zone): no data: URL, which the
 * Content-Security-Policy would block, and nothing but numbers in the markup.
 */
export function QrCode({ modules }: { modules: boolean[][] }): JSX.Element {
  const size = modules.length;
  let path = "";
  modules.forEach((row, y) => row.forEach((dark, x) => (path += dark ? `M${x} ${y}h1v1h-1z` : "")));
  return (
    <svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox={`-4 -4 ${size + 8} ${size + 8}`} width="240" height="240" role="img" aria-label="QR code of the setup key" shape-rendering="crispEdges">
      <rect x="-4" y="-4" width={String(size + 8)} height={String(size + 8)} fill="#fff" />
      <path d={path} fill="#000" />
    </svg>
  );
}

/** The recovery codes, this once. */
export function RecoveryCodes({ codes }: { codes: string[] }): JSX.Element {
  return (
    <section class="recovery-codes">
      <p>Your recovery codes. Each works once, instead of a code from the app. Keep them somewhere safe: they will not be shown again.</p>
      <ul>
        {codes.map((code) => (
          <li>
            <code safe>{code}</code>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Sign-in for a member of auth.mfa.required_for who has no MFA yet: enrol first. */
export function MfaEnrolPage({ enrolment, error }: { enrolment: EnrolmentProps; error?: string }): JSX.Element {
  return (
    <Layout title="Turn on two-step sign-in">
      <h1>Turn on two-step sign-in</h1>
      <Messages error={error} />
      <p>Your account must use two-step sign-in before you continue.</p>
      <EnrolmentPanel {...enrolment} />
    </Layout>
  );
}

/** After enrolling at sign-in: the recovery codes once, then on to where the user was going. */
export function MfaDonePage({ codes, next }: { codes: string[]; next: string }): JSX.Element {
  return (
    <Layout title="Two-step sign-in is on">
      <h1>Two-step sign-in is on</h1>
      <RecoveryCodes codes={codes} />
      <p>
        <a href={next}>
          Continue
        </a>
      </p>
    </Layout>
  );
}

/** The account page's section: on or off, and the way to turn it on (or the panel while enrolling). */
export function MfaSection({ status, enrolment, recoveryCodes, csrfToken }: { status: { enrolled: boolean; recoveryCodesLeft: number }; enrolment?: EnrolmentProps; recoveryCodes?: string[]; csrfToken: string }): JSX.Element {
  return (
    <section id="mfa">
      <h2>Two-step sign-in</h2>
      {recoveryCodes ? <RecoveryCodes codes={recoveryCodes} /> : ""}
      {status.enrolled ? (
        <p safe>{`On: sign-in asks for a code from your authenticator app. Recovery codes left: ${status.recoveryCodesLeft}.`}</p>
      ) : enrolment ? (
        <EnrolmentPanel {...enrolment} />
      ) : (
        <form method="post" action="/account/mfa/enrol" class="inline">
          <input type="hidden" name="_csrf" value={csrfToken} />
          <span>Off. </span>
          <button type="submit">Turn on two-step sign-in</button>
        </form>
      )}
    </section>
  );
}
