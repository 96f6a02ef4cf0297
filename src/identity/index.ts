export { base32Decode, base32Encode } from './base32.js';
export { NODE_ID_LENGTH, PUBLIC_KEY_BYTES, isNodeId, nodeIdFromPublicKey, publicKeyFromNodeId, shortId } from './node-id.js';
export { MAX_ECHOED_INPUT_CHARS, MAX_LISTED_MATCHES, MIN_ID_PREFIX, MIN_STRANGER_PREFIX, resolveNodeId, type ResolvablePeers } from './resolve.js';
export { createNodeCertificate, nodeIdFromCertificate, publicKeyObject, selfSignedCertificateDer } from './certificate.js';
export { KEY_FILE, discardCreatedIdentity, generateIdentity, identityFromPrivateKey, loadOrCreateIdentity, verifySignature, type Identity } from './identity.js';
