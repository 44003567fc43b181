// client.mjs - tuf-js (the TUF client of npm and sigstore-js) against
// pawl-repod, for tests/service/test_service.sh:
//
//   node client.mjs METADATA_DIR METADATA_URL TARGET_DIR TARGET_URL PATH...
//
// METADATA_DIR holds the trusted root.json. tuf-js's Updater refreshes
// (root rotations, timestamp, snapshot, targets: every signature,
// threshold, version, expiry, length and hash checked by tuf-js), finds
// each PATH through the delegations (the succinct hash bins), downloads
// it from TARGET_URL (as HASH.NAME: consistent snapshots) and checks its
// length and hashes. Prints one JSON line per target: path, length,
// sha256, the file tuf-js wrote. Exit 0 when all of that holds, 1 with
// tuf-js's error otherwise.
import { Updater } from 'tuf-js';

const [metadataDir, metadataBaseUrl, targetDir, targetBaseUrl, ...paths] =
  process.argv.slice(2);
if (!metadataDir || !metadataBaseUrl || !targetDir || !targetBaseUrl || paths.length === 0) {
  console.error('usage: node client.mjs METADATA_DIR METADATA_URL TARGET_DIR TARGET_URL PATH...');
  process.exit(2);
}

try {
  const updater = new Updater({ metadataDir, metadataBaseUrl, targetDir, targetBaseUrl });
  await updater.refresh();
  for (const path of paths) {
    const info = await updater.getTargetInfo(path);
    if (!info) {
      throw new Error(`${path}: no such target in the published metadata`);
    }
    const file = await updater.downloadTarget(info);
    console.log(JSON.stringify({ path, length: info.length, sha256: info.hashes.sha256, file }));
  }
} catch (e) {
  console.error(`tuf-js: ${e.name}: ${e.message}`);
  process.exit(1);
}
