// Package shuffle is the wire format of the runner's shuffle through
// Kafka: the records a stage upstream of a GroupByKey writes to the
// GroupByKey's internal topic, and what the reading side keeps of them.
//
// A GroupByKey whose key does not follow the Kafka source's partitioning
// reads its input from an internal topic keyed by the grouping key (plan's
// KindShuffleWrite and shuffle reads). Its tasks are that topic's
// partitions. Two kinds of record go there:
//
//   - Data records: the key is the element's encoded key (its partition
//     is Partition of it), the value the encoded windowed value, and the
//     header HeaderSeq says which upstream task wrote it (its source
//     partition) and its writer generation and sequence number in that
//     partition of the topic.
//   - Control records, with no key and value and the header HeaderMark:
//     an upstream task's watermark and idleness, written to every
//     partition, after its data (so everything that task wrote below the
//     watermark precedes the mark there).
//
// A reader keeps Marks per partition: for each upstream task the last
// sequence number it took (so records written again after a crash
// upstream are dropped: a writer restored from a checkpoint numbers them
// as it did the first time) and the last watermark. The partition's
// watermark is the minimum over every upstream task (nothing until each
// has spoken), leaving out idle ones unless all are.
package shuffle
