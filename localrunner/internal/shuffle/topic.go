package shuffle

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Ensure makes sure the internal topic exists and returns its partition
// count. A missing topic is created with want partitions (> 0) and
// replication factor rf (-1: the broker's default). An existing one (a
// process of the group may create it first) is used as it is, unless
// exact is set (the user asked for want partitions) and it has another
// count: then its records would be keyed to other tasks than the
// configured ones, and Ensure returns an error naming both.
func Ensure(ctx context.Context, adm *kadm.Client, topic string, want int32, rf int16, exact bool) (int32, error) {
	if want <= 0 {
		return 0, fmt.Errorf("shuffle topic %q: %d partitions, want > 0", topic, want)
	}
	_, err := adm.CreateTopic(ctx, want, rf, nil, topic)
	if err == nil {
		return want, nil
	}
	exists := errors.Is(err, kerr.TopicAlreadyExists)
	denied := errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed)
	if !exists && !denied {
		return 0, fmt.Errorf("shuffle topic %q: create: %w", topic, err)
	}
	tds, lerr := adm.ListTopics(ctx, topic)
	if lerr == nil {
		lerr = tds[topic].Err
	}
	if lerr != nil {
		if denied {
			return 0, errors.Join(fmt.Errorf("shuffle topic %q: create: %w", topic, err), lerr)
		}
		return 0, fmt.Errorf("shuffle topic %q: list: %w", topic, lerr)
	}
	n := int32(len(tds[topic].Partitions))
	if exact && n != want {
		return 0, fmt.Errorf("shuffle topic %q has %d partitions, not the %d configured: delete it (with the group's state) or configure %d", topic, n, want, n)
	}
	return n, nil
}
