// Package manifest finds container image references in the files of a GitOps
// repository and says what they mean for deployment history.
//
// It reads one file version at a time and knows four ways of writing an image
// reference: Kubernetes workloads (including Knative Services), kustomization
// images, Helm values, and argocd-image-updater write-back files. Extract lists
// the references of a file version, Diff compares two versions of the same file,
// Rules.Detect says which app and environment a reference belongs to, and
// ParseImage and SourceSHAs take an image reference apart, down to the source
// commit its tag may name.
//
// The package does no I/O: callers read file contents from Git and pass them in.
package manifest
