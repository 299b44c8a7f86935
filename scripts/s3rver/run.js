// run.js - start @20minutes/s3rver 5.x (a SigV4-checking fake S3) for tests
// and the local cluster.  Its npm tarball ships no CLI, hence this file.
//
// Environment (all required unless a default is given):
//   S3RVER_PORT            TCP port on 127.0.0.1 (the only address it binds)
//   S3RVER_DIR             directory holding the buckets (created)
//   S3RVER_BUCKETS         comma-separated buckets created at start ("")
//   AWS_ACCESS_KEY_ID      the one accepted key pair; the package's built-in
//   AWS_SECRET_ACCESS_KEY  S3RVER/S3RVER pair is revoked unless it is this one
//   S3RVER_MODULES         npm prefix holding the package (<repo>/.cache/s3rver)
//
// Start it as `node --openssl-legacy-provider run.js`: s3rver encrypts its
// ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only offers
// through the legacy provider; without it every second page of a listing
// fails with 500 InternalError.  run.js refuses to start without it.
//
// Requests signed with any other secret fail with 403 SignatureDoesNotMatch.
// Note: s3rver lets requests without any Authorization header through.
// Prints "s3rver: listening on 127.0.0.1:PORT" once it accepts requests and
// stops cleanly on SIGTERM / SIGINT.
'use strict';

const path = require('node:path');

function need(name) {
    const v = process.env[name];
    if (v === undefined || v === '') {
        console.error(`s3rver: environment variable ${name} is not set`);
        process.exit(2);
    }
    return v;
}

const repo = path.resolve(__dirname, '..', '..');
const modules = process.env.S3RVER_MODULES || path.join(repo, '.cache', 's3rver');
const pkg = path.join(modules, 'node_modules', '@20minutes', 's3rver');
let S3rver, AWSAccount;
try {
    S3rver = require(pkg);
    AWSAccount = require(path.join(pkg, 'lib', 'models', 'account'));
} catch (e) {
    console.error(`s3rver: cannot load ${pkg} (run scripts/s3rver/install.sh): ${e.message}`);
    process.exit(2);
}

try {
    require('node:crypto').createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
} catch (e) {
    console.error('s3rver: DES is unavailable (' + e.code + '); start node with ' +
        '--openssl-legacy-provider or listings longer than one page fail');
    process.exit(2);
}

const port = Number(need('S3RVER_PORT'));
const dir = need('S3RVER_DIR');
const keyId = need('AWS_ACCESS_KEY_ID');
const secret = need('AWS_SECRET_ACCESS_KEY');
const buckets = (process.env.S3RVER_BUCKETS || '')
    .split(',').map((b) => b.trim()).filter((b) => b !== '');

if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error(`s3rver: S3RVER_PORT '${process.env.S3RVER_PORT}' is not a port`);
    process.exit(2);
}

// Replace the built-in credentials with the ones from the environment.
const account = AWSAccount.DUMMY_ACCOUNT;
if (keyId !== 'S3RVER') {
    account.revokeAccessKey('S3RVER');
}
account.createKeyPair(keyId, secret);

const server = new S3rver({
    address: '127.0.0.1',
    port,
    directory: dir,
    silent: process.env.S3RVER_SILENT === '1',
    vhostBuckets: false,
    allowMismatchedSignatures: false,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
});

server.run().then(
    (addr) => console.log(`s3rver: listening on ${addr.address}:${addr.port}`),
    (e) => {
        console.error(`s3rver: cannot start on 127.0.0.1:${port}: ${e.message}`);
        process.exit(1);
    },
);

function stop(sig) {
    console.log(`s3rver: ${sig}, closing`);
    server.close().then(() => process.exit(0), () => process.exit(1));
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
