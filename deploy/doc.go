// Package deploy holds no code: the directory holds how shiplog is shipped —
// the Helm chart (helm/shiplog), the Argo CD Application that deploys it
// (argocd), Knative Eventing wiring (knative-eventing) and a CI workflow
// template for application repositories (ci) — and the tests that render,
// build and apply them against a real kube-apiserver.
package deploy
