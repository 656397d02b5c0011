// Runs the official npm `wavespeed` SDK, unmodified, against a mock.
// Used by tests/providers/test_node_clients.py; prints one JSON line on stdout.
//
//   WAVESPEED_BASE_URL=http://127.0.0.1:8080/wavespeed WAVESPEED_API_KEY=k \
//   node wavespeed_run.js <model> <image file to upload>
'use strict';

const { Client } = require('wavespeed');

async function main() {
  const [model, file] = process.argv.slice(2);
  const client = new Client(process.env.WAVESPEED_API_KEY, {
    baseUrl: process.env.WAVESPEED_BASE_URL,
  });
  // The SDK's two-step upload (ticket, then PUT), then a run that polls to the end.
  const image = await client.upload(file);
  const result = await client.run(model, { image, prompt: 'a cat yawns' }, {
    pollInterval: 0.05,
    timeout: 60,
  });
  const download = await fetch(result.outputs[0]);
  const bytes = Buffer.from(await download.arrayBuffer());
  console.log(JSON.stringify({
    image,
    outputs: result.outputs,
    download_status: download.status,
    download_bytes: bytes.length,
  }));
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
