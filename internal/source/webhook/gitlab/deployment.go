package gitlab

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// InferredFromDeployment is the Deployment.InferredFrom of events made from
// GitLab deployment hooks.
const InferredFromDeployment = "gitlab-deployment"

var (
	fullSHA  = regexp.MustCompile(`^[0-9a-f]{40}$`)
	shortSHA = regexp.MustCompile(`^[0-9a-f]{7,40}$`)
)

type deploymentEvent struct {
	Status          string    `json:"status"`
	StatusChangedAt timestamp `json:"status_changed_at"`
	DeploymentID    int64     `json:"deployment_id"`
	Environment     string    `json:"environment"`
	ShortSHA        string    `json:"short_sha"`
	CommitURL       string    `json:"commit_url"`
	Project         project   `json:"project"`
}

// parseDeployment records a successful GitLab deployment as
// service.deployed: App is the project's path, Env the environment,
// SourceCommit the SHA at the end of commit_url (short_sha when commit_url
// has none). GitLab does not say which image was deployed, so the artifact
// is <path_with_namespace>@<sha>. Other statuses (created, running, failed,
// canceled) are not recorded.
func parseDeployment(deliveryID string, body []byte) ([]delivery.Event, error) {
	var p deploymentEvent
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	if p.Status != "success" {
		return nil, unsupported("deployment", "status", p.Status)
	}
	path, err := requireString("project.path_with_namespace", p.Project.PathWithNamespace)
	if err != nil {
		return nil, err
	}
	app := path[strings.LastIndexByte(path, '/')+1:]
	env, err := requireString("environment", p.Environment)
	if err != nil {
		return nil, err
	}
	sha := strings.ToLower(p.CommitURL[strings.LastIndexByte(p.CommitURL, '/')+1:])
	if !fullSHA.MatchString(sha) {
		sha = strings.ToLower(p.ShortSHA)
		if !shortSHA.MatchString(sha) {
			return nil, fmt.Errorf("commit_url: %q ends in no commit SHA and short_sha %q is none either", p.CommitURL, p.ShortSHA)
		}
	}
	at, err := parseTime("status_changed_at", p.StatusChangedAt)
	if err != nil {
		return nil, err
	}
	id := deliveryID
	if p.DeploymentID > 0 {
		id = naturalID("deployment", strconv.FormatInt(p.DeploymentID, 10))
	}
	return []delivery.Event{{
		ID:   id,
		Type: delivery.ServiceDeployed,
		Time: at,
		App:  app,
		Env:  env,
		Payload: &delivery.Deployment{
			Artifact:     path + "@" + sha,
			SourceCommit: sha,
			InferredFrom: InferredFromDeployment,
		},
	}}, nil
}
