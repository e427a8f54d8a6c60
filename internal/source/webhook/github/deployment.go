package github

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// InferredFromDeployment is the Deployment.InferredFrom of events made from
// GitHub deployment statuses.
const InferredFromDeployment = "github-deployment"

type deploymentStatusEvent struct {
	Action           string `json:"action"`
	DeploymentStatus struct {
		ID        int64     `json:"id"`
		State     string    `json:"state"`
		CreatedAt timestamp `json:"created_at"`
	} `json:"deployment_status"`
	Deployment struct {
		ID          int64           `json:"id"`
		SHA         string          `json:"sha"`
		Environment string          `json:"environment"`
		Payload     json.RawMessage `json:"payload"`
	} `json:"deployment"`
	Repository repository `json:"repository"`
}

// parseDeploymentStatus records a successful GitHub deployment as
// service.deployed: App is the repository name, Env the deployment's
// environment, SourceCommit the deployed SHA. The artifact is the "image"
// string of the deployment payload when the deploying tool put one there,
// else <owner>/<repo>@<sha>. Other states (pending, queued, in_progress,
// failure, error, inactive) are not recorded.
func parseDeploymentStatus(body []byte) ([]delivery.Event, error) {
	var p deploymentStatusEvent
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	s, d := &p.DeploymentStatus, &p.Deployment
	if s.State != "success" {
		return nil, unsupported("deployment_status", "state", s.State)
	}
	if s.ID <= 0 {
		return nil, fmt.Errorf("deployment_status.id: %d is not a deployment status id", s.ID)
	}
	app, err := requireString("repository.name", p.Repository.Name)
	if err != nil {
		return nil, err
	}
	env, err := requireString("deployment.environment", d.Environment)
	if err != nil {
		return nil, err
	}
	sha, err := requireString("deployment.sha", d.SHA)
	if err != nil {
		return nil, err
	}
	at, err := parseTime("deployment_status.created_at", s.CreatedAt)
	if err != nil {
		return nil, err
	}
	artifact := payloadImage(d.Payload)
	if artifact == "" {
		full, err := requireString("repository.full_name", p.Repository.FullName)
		if err != nil {
			return nil, err
		}
		artifact = full + "@" + sha
	}
	return []delivery.Event{{
		ID:   naturalID("deployment_status", strconv.FormatInt(s.ID, 10)),
		Type: delivery.ServiceDeployed,
		Time: at,
		App:  app,
		Env:  env,
		Payload: &delivery.Deployment{
			Artifact:     artifact,
			SourceCommit: sha,
			InferredFrom: InferredFromDeployment,
		},
	}}, nil
}

// payloadImage returns the "image" string of a deployment payload, which the
// API accepts as a JSON object or as a string holding one; "" when there is
// none.
func payloadImage(raw json.RawMessage) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil || json.Unmarshal([]byte(s), &obj) != nil {
			return ""
		}
	}
	var image string
	if json.Unmarshal(obj["image"], &image) != nil {
		return ""
	}
	return strings.TrimSpace(image)
}
