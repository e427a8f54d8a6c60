package efficiency

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// TestOwnRevisionsSkipsOnlyWhatIsNotCounted checks that skipping the
// samples of apps and environments the filter does not keep, before their
// lookups, changes no figure when revisions belong to their samples' app
// and environment.
func TestOwnRevisionsSkipsOnlyWhatIsNotCounted(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }
	var in Input
	apps, envs := []string{"api", "web", "db"}, []string{"dev", "prod"}
	for i := range 60 {
		app, env := apps[rng.IntN(len(apps))], envs[rng.IntN(len(envs))]
		ns, name := app+"-"+env, fmt.Sprintf("%s-%05d", app, i)
		created := at(rng.Float64() * 100)
		rev := delivery.RevisionRecord{Cluster: "c", Namespace: ns, Name: name, App: app, Env: env, Service: app, CreatedAt: created}
		if rng.IntN(4) == 0 {
			rev.DeletedAt = created.Add(time.Duration(rng.IntN(50)) * time.Hour)
		}
		in.Revisions = append(in.Revisions, rev)
		in.Traffic = append(in.Traffic, delivery.TrafficRecord{Cluster: "c", Namespace: ns, Service: app, Time: created, App: app, Env: env,
			TrafficTarget: delivery.TrafficTarget{Revision: name, Percent: 100}})
		for range rng.IntN(4) {
			in.Scale = append(in.Scale, delivery.ScaleRecord{Cluster: "c", Namespace: ns, App: app, Env: env, Time: at(rng.Float64() * 150),
				Scale: delivery.Scale{Revision: name, Service: app, Actual: rng.IntN(3)}})
		}
	}
	s := Settings{BaselineMinReplicas: 1, CostPerReplicaHour: 0.05, Teams: map[string]string{"api": "core", "db": "core", "web": "front"}}
	for _, f := range []Filter{{}, {Envs: []string{"prod"}}, {App: "web"}, {Team: "core", Envs: []string{"dev"}}} {
		all := costInput(in)
		own := all
		own.OwnRevisions = true
		want := costOf(all, in.Scale, f, at(20), at(140), s, true)
		got := costOf(own, in.Scale, f, at(20), at(140), s, true)
		if want.Revisions == nil {
			t.Fatalf("%+v: no revision counted, want some to compare", f)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: with OwnRevisions %+v, without %+v", f, got, want)
		}
	}
}
