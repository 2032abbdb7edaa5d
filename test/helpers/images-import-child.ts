// Child process for the kill -9 test: opens the store like a starting daemon, imports a URL and
// prints "received <bytes>" lines so the parent knows when to kill it mid-stream.
import { BlobStore } from '../../server/images/blob-store.js';
import { fetchToStore } from '../../server/images/fetch.js';

const [root, url] = process.argv.slice(2) as [string, string];
const store = new BlobStore(root);
await store.init();
let reported = 0;
const ref = await fetchToStore(store, url, {
  maxBytes: 2 ** 31,
  timeoutMs: 10_000,
  onProgress: (received) => {
    if (received - reported >= 64 * 1024) {
      reported = received;
      process.stdout.write(`received ${received}\n`);
    }
  },
});
process.stdout.write(`stored ${ref.digest}\n`);
