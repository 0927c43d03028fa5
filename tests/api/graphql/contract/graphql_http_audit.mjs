// The graphql-http server audits (the GraphQL-over-HTTP spec's reference suite) against one URL.
// Usage: node graphql_http_audit.mjs <npm prefix holding graphql-http> <url>
// Prints one JSON array: each audit's id, name, status (ok, notice, warn or error) and, unless
// ok, the reason and the response received.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [prefix, url] = process.argv.slice(2);
if (!prefix || !url) {
  console.error('usage: node graphql_http_audit.mjs <npm prefix> <url>');
  process.exit(2);
}
// Resolved from the prefix's node_modules (a pinned install, not this repository's).
const { serverAudits } = createRequire(join(prefix, 'package.json'))('graphql-http');

const results = [];
for (const { fn } of serverAudits({ url })) {
  // One at a time: the server under test may answer one request at a time.
  const result = await fn();
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    entry.response = {
      status: result.response.status,
      contentType: result.response.headers.get('content-type'),
      body: await result.response.text().catch((error) => `<unreadable: ${error}>`),
    };
  }
  results.push(entry);
}
console.log(JSON.stringify(results, null, 1));
