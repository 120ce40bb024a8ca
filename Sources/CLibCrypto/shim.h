// CLibCrypto: OpenSSL's libcrypto, for SHA-256 only (Sources/ModelCore/SHA256.swift).
// The EVP digest interface is used because the low-level SHA256_* calls are deprecated
// in OpenSSL 3.
#ifndef BSS_CLIBCRYPTO_SHIM_H
#define BSS_CLIBCRYPTO_SHIM_H
#include <openssl/evp.h>
#endif
