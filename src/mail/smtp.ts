// A minimal SMTP client (RFC 5321) for the one kind of mail Endpoint sends: a short plain-text message to one
// recipient. EHLO, STARTTLS (required unless tls is off) or implicit TLS, optional AUTH PLAIN (only over TLS),
// MAIL FROM, RCPT TO, DATA with dot-stuffing, QUIT. Every step has a deadline; any unexpected reply fails the send.
import { hostname } from "node:os";
import { type Socket, connect as connectPlain } from "node:net";
import { type TLSSocket, connect as connectTls } from "node:tls";
import type { MailSettings } from "../config/schema.ts";

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

const STEP_TIMEOUT_MS = 10_000;
// Header values and addresses reach the wire as is: no CR, LF or NUL may slip in and start a new command or header.
const UNSAFE = /[\r\n\u0000]/;

/** Send one message; resolves once the server accepted it for delivery, rejects with the reason otherwise. */
export async function sendMail(settings: MailSettings, message: MailMessage): Promise<void> {
  for (const value of [message.to, message.subject, settings.from]) if (UNSAFE.test(value)) throw new Error("mail header holds a line break");
  const session = await SmtpSession.open(settings);
  try {
    await session.expect(220);
    let features = await session.ehlo();
    if (settings.tls === "starttls") {
      if (!/^STARTTLS$/im.test(features)) throw new Error(`${settings.host} does not offer STARTTLS (set auth.mail.tls: off only for a server on this machine)`);
      await session.command("STARTTLS", 220);
      session.upgrade(settings.host);
      features = await session.ehlo();
    }
    if (settings.username !== undefined) {
      if (!session.encrypted) throw new Error("refusing to send SMTP credentials without TLS");
      const plain = Buffer.from(`\u0000${settings.username}\u0000${settings.password ?? ""}`).toString("base64");
      await session.command(`AUTH PLAIN ${plain}`, 235, "AUTH PLAIN ***");
    }
    await session.command(`MAIL FROM:<${settings.from}>`, 250);
    await session.command(`RCPT TO:<${message.to}>`, [250, 251]);
    await session.command("DATA", 354);
    await session.command(`${formatMessage(settings.from, message)}\r\n.`, 250, "the message");
    await session.command("QUIT", 221).catch(() => {});
  } finally {
    session.close();
  }
}

/** Headers and body, CRLF line ends, lines starting with "." doubled (RFC 5321 §4.5.2). */
function formatMessage(from: string, message: MailMessage): string {
  const domain = from.split("@")[1] ?? "localhost";
  const headers = [
    `From: ${from}`,
    `To: ${message.to}`,
    `Subject: ${message.subject}`,
    `Date: ${new Date().toUTCString().replace("GMT", "+0000")}`,
    `Message-ID: <${crypto.randomUUID()}@${domain}>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "Auto-Submitted: auto-generated",
  ];
  const body = message.text.replace(/\r?\n/g, "\r\n").replace(/^\./gm, "..");
  return `${headers.join("\r\n")}\r\n\r\n${body}`;
}

/** One connection: replies read line by line, each command waiting for its reply. */
class SmtpSession {
  private buffer = "";
  private waiting: (() => void) | null = null;
  private failure: Error | null = null;

  private constructor(private socket: Socket | TLSSocket, public encrypted: boolean) {
    this.listen();
  }

  static open(settings: MailSettings): Promise<SmtpSession> {
    return new Promise((resolve, reject) => {
      const implicit = settings.tls === "implicit";
      const options = { host: settings.host, port: settings.port, servername: settings.host };
      const socket = implicit ? connectTls(options) : connectPlain({ host: settings.host, port: settings.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`could not connect to ${settings.host}:${settings.port} within ${STEP_TIMEOUT_MS / 1000}s`));
      }, STEP_TIMEOUT_MS);
      socket.once(implicit ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        resolve(new SmtpSession(socket, implicit));
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  private listen(): void {
    this.socket.setEncoding("utf8");
    this.socket.on("data", (chunk: string) => {
      this.buffer += chunk;
      this.wake();
    });
    this.socket.on("error", (error) => {
      this.failure = error;
      this.wake();
    });
    this.socket.on("close", () => {
      this.failure ??= new Error("the SMTP server closed the connection");
      this.wake();
    });
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }

  /** Switch this connection to TLS (after STARTTLS), checking the server's certificate for `host`. */
  upgrade(host: string): void {
    this.socket.removeAllListeners("data").removeAllListeners("error").removeAllListeners("close");
    this.buffer = "";
    this.socket = connectTls({ socket: this.socket as Socket, servername: host });
    this.encrypted = true;
    this.listen();
  }

  /** The next whole reply (all its lines): its code and text. */
  private async reply(): Promise<{ code: number; text: string }> {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      // A reply ends with a line "NNN text" (a space after the code); "NNN-text" lines continue it.
      const end = /(?:^|\r?\n)(\d{3}) [^\n]*\r?\n/.exec(this.buffer);
      if (end) {
        const length = end.index + end[0].length;
        const text = this.buffer.slice(0, length);
        this.buffer = this.buffer.slice(length);
        return { code: Number(end[1]), text };
      }
      if (this.failure) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("the SMTP server did not answer in time");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async expect(codes: number | number[], what = "the greeting"): Promise<string> {
    const { code, text } = await this.reply();
    if (![codes].flat().includes(code)) throw new Error(`SMTP server answered ${what} with ${text.trim().slice(0, 200)}`);
    return text;
  }

  async command(line: string, codes: number | number[], shown = line): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.expect(codes, shown);
  }

  ehlo(): Promise<string> {
    const name = hostname().replace(/[^A-Za-z0-9.-]/g, "") || "localhost";
    return this.command(`EHLO ${name}`, 250).then((text) => text.replace(/^250[- ]/gm, ""));
  }

  close(): void {
    this.socket.destroy();
  }
}
