// TensorBoard event files (`events.out.tfevents.<time>.<host>.<pid>`): TFRecord framing of serialized
// Event protos (train/proto/tb_event.proto, TensorFlow's field numbers). A record is
//   u64 length (little endian) | u32 masked CRC32C of those 8 bytes | data | u32 masked CRC32C of data
// with mask(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8. The first event of a file is
// {file_version: "brain.Event:2"}; every later one holds a Summary of scalars or images at a step.
#pragma once
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "data/image_io.h"

namespace vps::train {

uint32_t crc32c(const void* data, size_t size);  // Castagnoli, reflected polynomial 0x82F63B78
uint32_t masked_crc32c(const void* data, size_t size);
// One framed record holding `payload`.
std::string frame_record(const std::string& payload);
// The payloads of a file's records; a torn last record (a crash while writing) ends the list, with
// `torn` set; a CRC mismatch elsewhere throws naming the file and the byte offset.
std::vector<std::string> read_records(const std::string& path, bool* torn = nullptr);

// One decoded event (scalars and images of its summary by tag; images as their PNG bytes).
struct EventRecord {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;                    // set on the first event only
  std::map<std::string, float> scalars;
  std::map<std::string, std::string> images;   // tag -> PNG bytes
  std::map<std::string, std::pair<int, int>> image_sizes;  // tag -> (width, height) as declared
};
std::vector<EventRecord> read_event_file(const std::string& path);  // throws naming the file on a bad record
// The event files of `dir` (names starting with "events.out.tfevents."), sorted as TensorBoard reads them.
std::vector<std::string> list_event_files(const std::string& dir);

// Rewrites (atomically) every event file of `dir` that holds an event with a step above `step`, or a torn
// last record, without them: a resumed run redoes the steps after its checkpoint and writes them into a
// new file, so no step is in two files. Returns the number of events dropped.
int64_t drop_events_after(const std::string& dir, int64_t step);

// Appends events to a new file in `dir`, flushed after each event (a crash loses at most the last one).
class EventFileWriter {
 public:
  explicit EventFileWriter(const std::string& dir);
  ~EventFileWriter();
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;
  void add_scalars(int64_t step, const std::map<std::string, double>& values);
  void add_image(int64_t step, const std::string& tag, const data::Image& rgb);
  const std::string& path() const { return path_; }

 private:
  void write_event(const std::string& serialized);
  std::string path_;
  std::FILE* f_ = nullptr;
};

}  // namespace vps::train
