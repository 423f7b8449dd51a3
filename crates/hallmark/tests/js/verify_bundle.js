// Verify a key-signed Sigstore bundle v0.3 with sigstore-js (@sigstore/verify), fully offline,
// against a trusted_root.json: the recipe for custom roots (the `sigstore` package always loads
// its root through TUF, so @sigstore/verify is used directly).
//
//   node verify_bundle.js BUNDLE.json ARTIFACT TRUSTED_ROOT.json PUBLIC_KEY.pem
//
// Prints "OK <hint>" and exits 0 when the bundle verifies; prints "FAIL <code>: <message>" and
// exits 1 otherwise (2 on usage errors).

'use strict';

const fs = require('node:fs');
const crypto = require('node:crypto');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

function main(argv) {
  if (argv.length !== 4) {
    console.error('usage: node verify_bundle.js BUNDLE.json ARTIFACT TRUSTED_ROOT.json PUBLIC_KEY.pem');
    return 2;
  }
  const [bundlePath, artifactPath, rootPath, keyPath] = argv;
  const bundleJson = JSON.parse(fs.readFileSync(bundlePath, 'utf8'));
  const artifact = fs.readFileSync(artifactPath);
  const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(rootPath, 'utf8')));
  const keyPem = fs.readFileSync(keyPath, 'utf8');

  try {
    const bundle = bundleFromJSON(bundleJson);
    const expectedHint = bundle.verificationMaterial.content.$case === 'publicKey'
      ? bundle.verificationMaterial.content.publicKey.hint
      : undefined;
    // The key is found by its hint; a bundle naming another hint gets no key.
    const trust = toTrustMaterial(root, (hint) => {
      if (hint !== expectedHint) {
        throw new Error(`unknown key hint ${hint}`);
      }
      return { publicKey: crypto.createPublicKey(keyPem), validFor: () => true };
    });
    // Key bundles have no certificate, so no SCTs; the tlog entry's SET is the timestamp.
    const verifier = new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 });
    verifier.verify(toSignedEntity(bundle, artifact));
    console.log(`OK ${expectedHint}`);
    return 0;
  } catch (e) {
    console.log(`FAIL ${e.code || e.name}: ${e.message}`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
