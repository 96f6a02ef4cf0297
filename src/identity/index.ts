export { base32Decode, base32Encode } from './base32.js';
export { NODE_ID_LENGTH, PUBLIC_KEY_BYTES, isNodeId, nodeIdFromPublicKey, publicKeyFromNodeId, shortId } from './node-id.js';
export { resolveNodeId } from './resolve.js';
export { createNodeCertificate, nodeIdFromCertificate, publicKeyObject, selfSignedCertificateDer } from './certificate.js';
export { KEY_FILE, generateIdentity, identityFromPrivateKey, loadOrCreateIdentity, verifySignature, type Identity } from './identity.js';
