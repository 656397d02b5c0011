// Preload for Node < 24, whose built-in fetch ignores HTTPS_PROXY:
//   NODE_OPTIONS="--require /path/to/use-env-proxy.cjs" node app.js
// makes every fetch (the wavespeed SDK's included) honour HTTPS_PROXY /
// HTTP_PROXY / NO_PROXY, with no change to the application. It needs the
// `undici` package (same major version as the Node's own: Node 20 ships 6.x).
// Node >= 24 needs no preload: set NODE_USE_ENV_PROXY=1 instead.
const { setGlobalDispatcher, EnvHttpProxyAgent } = require("undici");
setGlobalDispatcher(new EnvHttpProxyAgent());
