// Endpoint's own routes, in the order `routes` lists them: plain data, mounted through the same table and guard as
// the routes in endpoint.yaml. They reach the services they use through the handler context.
import type { Config } from "../../config/schema.ts";
import type { Route } from "../route.ts";
import { accountRoutes } from "./account.ts";
import { adminRoutes } from "./admin.ts";
import { apiRoutes } from "./api.ts";
import { forgotRoutes } from "./forgot.ts";
import { healthRoutes } from "./health.ts";
import { loginRoutes } from "./login.ts";
import { metricsRoutes } from "./metrics.ts";
import { mfaLoginRoutes } from "./mfa-login.ts";
import { openApiRoutes } from "./openapi.ts";
import { resetRoutes } from "./reset.ts";
import { setupRoutes } from "./setup.ts";

export function allBuiltinRoutes(config: Config): Route[] {
  return [
    ...healthRoutes(),
    ...(config.server.metrics ? metricsRoutes() : []),
    ...loginRoutes(config),
    ...mfaLoginRoutes(config),
    ...resetRoutes(config),
    ...forgotRoutes(config),
    ...accountRoutes(config),
    ...adminRoutes(config),
    ...setupRoutes(config),
    ...apiRoutes(config),
    ...openApiRoutes(config),
  ];
}
