package auth

import (
	"encoding/base64"
	"encoding/json"
)

// UnsignedToken is PyJWT's jwt.encode(claims, "", algorithm="none"): the
// token Feast's servers call each other with when INTRA_COMMUNICATION_BASE64
// is set.
func UnsignedToken(claims map[string]string) string {
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}
