// Package validate checks the deployment files (docker-compose.yml and
// deploy/kubernetes) the way their tools read them. It is its own module so
// that the compose and Kubernetes libraries stay out of the server's go.mod.
package validate
