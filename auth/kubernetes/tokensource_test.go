package kubernetes

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"
)

// The token of our own calls to a registry server, in the order of
// Feast's KubernetesAuthClientManager.
func TestTokenSourceOrder(t *testing.T) {
	files := map[string]string{"/sa/token": "sa-token\n"}
	readFile := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	cases := []struct {
		name      string
		env       map[string]string
		userToken string
		noFile    bool
		want      string
	}{
		{name: "intra first", env: map[string]string{"INTRA_COMMUNICATION_BASE64": "c2Vj", ServiceAccountDirEnv: "/sa", "LOCAL_K8S_TOKEN": "l"}, userToken: "u", want: "intra"},
		{name: "user_token", env: map[string]string{ServiceAccountDirEnv: "/sa", "LOCAL_K8S_TOKEN": "l"}, userToken: "u", want: "u"},
		{name: "service-account file", env: map[string]string{ServiceAccountDirEnv: "/sa", "LOCAL_K8S_TOKEN": "l"}, want: "sa-token"},
		{name: "LOCAL_K8S_TOKEN", env: map[string]string{ServiceAccountDirEnv: "/none", "LOCAL_K8S_TOKEN": "l"}, want: "l"},
		{name: "nothing", env: map[string]string{ServiceAccountDirEnv: "/none"}, want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := &TokenSource{UserToken: tc.userToken, Getenv: func(k string) string { return tc.env[k] }, ReadFile: readFile}
			got, err := ts.Token(context.Background())
			switch {
			case tc.want == "":
				if err == nil || !strings.Contains(err.Error(), "LOCAL_K8S_TOKEN") {
					t.Fatalf("token %q, err %v; want an error naming the sources", got, err)
				}
			case tc.want == "intra":
				_, name, ok := unverifiedServiceAccount(got)
				if err != nil || !ok || name != "c2Vj" {
					t.Fatalf("token %q (%v): want an unsigned JWT with sub :::c2Vj", got, err)
				}
				hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(got, ".")[0])
				if !strings.Contains(string(hdr), `"alg":"none"`) {
					t.Fatalf("header %s", hdr)
				}
			default:
				if err != nil || got != tc.want {
					t.Fatalf("token %q, err %v; want %q", got, err, tc.want)
				}
			}
		})
	}
	if _, err := (&TokenSource{ReadFile: func(string) ([]byte, error) { return nil, errors.New("x") }, Getenv: func(string) string { return "" }}).Token(context.Background()); err == nil {
		t.Fatal("no source: want an error")
	}
}
