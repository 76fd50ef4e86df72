/** @jsxImportSource @kitajs/html */
// The example app that ships with Endpoint (see endpoint.yaml): one handler per feature.
import { Layout, created, defineHandler, html, t } from "endpoint";

/** status — public: is the service up, and which version answers. */
export const status = defineHandler({
  response: t.Object({ status: t.Literal("ok"), service: t.String() }),
  handle: () => ({ status: "ok" as const, service: "endpoint" }),
});

/** whoami — any signed-in caller: who the server thinks you are. */
export const whoami = defineHandler({
  signedIn: true,
  response: t.Object({
    id: t.String({ format: "uuid" }),
    username: t.String(),
    groups: t.Array(t.String()),
    via: t.Union([t.Literal("session"), t.Literal("token")]),
  }),
  handle: ({ caller }) => ({ id: caller.id, username: caller.username, groups: [...caller.groups], via: caller.via }),
});

/** home — the public home page. */
export const home = defineHandler({
  handle: ({ caller, session, config }) =>
    html(
      // isAdmin: members of the admin group get a link to the admin pages in the header.
      <Layout title="Home" principal={caller} csrfToken={session?.csrfToken} isAdmin={caller?.groups.includes(config.auth.adminGroup)}>
        <h1>Endpoint</h1>
        {caller ? (
          <p>
            Signed in as <strong safe>{caller.username}</strong>. See the <a href="/events">recorded events</a>.
          </p>
        ) : (
          <p>
            A small, self-hosted web server. <a href="/login">Sign in</a> to see the recorded events.
          </p>
        )}
      </Layout>,
    ),
});

/** webhook — token-only, services group: a remote service reports an event, which is recorded. */
export const receiveEvent = defineHandler({
  body: t.Object(
    {
      kind: t.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9._:-]+$" }),
      payload: t.Optional(t.Record(t.String({ maxLength: 64 }), t.Unknown(), { maxProperties: 50 })),
    },
    { additionalProperties: false },
  ),
  signedIn: true,
  // "x-status": created() answers 201, and the OpenAPI document says so.
  response: t.Object({ id: t.String(), received_at: t.String({ format: "date-time" }) }, { "x-status": 201 }),
  async handle({ body, caller, db, log }) {
    const row = await db
      .insertInto("events")
      .values({ source: caller.username, kind: body.kind, payload: JSON.stringify(body.payload ?? {}) })
      .returning(["id", "received_at"])
      .executeTakeFirstOrThrow();
    log.info("event_recorded", { event_id: row.id, kind: body.kind });
    return created({ id: row.id, received_at: row.received_at.toISOString() });
  },
});

/** events — session-only page for the users group: the latest recorded events. */
export const listEvents = defineHandler({
  query: t.Object({ page: t.Optional(t.Integer({ minimum: 1, maximum: 10_000 })) }, { additionalProperties: false }),
  signedIn: true,
  async handle({ db, caller, session, query, config }) {
    const perPage = 50;
    const page = query.page ?? 1;
    const events = await db
      .selectFrom("events")
      .select(["id", "received_at", "source", "kind", "payload"])
      .orderBy("id", "desc")
      .limit(perPage + 1)
      .offset((page - 1) * perPage)
      .execute();
    const hasMore = events.length > perPage;
    return html(
      <Layout title="Events" principal={caller} csrfToken={session?.csrfToken} isAdmin={caller.groups.includes(config.auth.adminGroup)}>
        <h1>Recorded events</h1>
        {events.length === 0 ? (
          <p class="muted">No events yet. Services post them to the webhook route.</p>
        ) : (
          // In a box that scrolls sideways on a narrow screen, so the page itself does not.
          <div class="table-scroll">
            <table>
              <thead>
                <tr>
                  <th>When</th>
                  <th>Source</th>
                  <th>Kind</th>
                  <th>Payload</th>
                </tr>
              </thead>
              <tbody>
                {events.slice(0, perPage).map((event) => (
                  <tr>
                    <td safe>{event.received_at.toISOString()}</td>
                    <td safe>{event.source}</td>
                    <td safe>{event.kind}</td>
                    <td class="long">
                      <code safe>{JSON.stringify(event.payload)}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <p>
          {page > 1 ? <a href={`/events?page=${page - 1}`}>Newer</a> : ""} {hasMore ? <a href={`/events?page=${page + 1}`}>Older</a> : ""}
        </p>
      </Layout>,
    );
  },
});
