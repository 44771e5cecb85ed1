// Package deploy holds ldapbridge's deployment artefacts: the container
// image (Dockerfile), Kubernetes manifests (kubernetes/sidecar,
// kubernetes/standalone) and the systemd unit (systemd/). It has no code;
// its tests decode every artefact strictly and check that it agrees with
// the configuration it ships with.
package deploy
