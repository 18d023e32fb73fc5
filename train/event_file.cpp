#include "train/event_file.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>

#include "data/fs_util.h"
#include "tensor/check.h"
#include "train/proto/tb_event.pb.h"

namespace vps::train {

namespace {

constexpr const char* kPrefix = "events.out.tfevents.";

const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

uint32_t read_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // the format is little endian, as is every machine we build for
  return v;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string serialize(const tbproto::Event& e) {
  std::string s;
  VPS_CHECK(e.SerializeToString(&s), "TensorBoard event: protobuf serialisation failed");
  return s;
}

}  // namespace

uint32_t crc32c(const void* data, size_t size) {
  const auto& t = crc_table();
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = t[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string frame_record(const std::string& payload) {
  uint64_t len = payload.size();
  uint32_t len_crc = masked_crc32c(&len, 8), data_crc = masked_crc32c(payload.data(), payload.size());
  std::string r;
  r.append(reinterpret_cast<const char*>(&len), 8);
  r.append(reinterpret_cast<const char*>(&len_crc), 4);
  r += payload;
  r.append(reinterpret_cast<const char*>(&data_crc), 4);
  return r;
}

std::vector<std::string> read_records(const std::string& path, bool* torn) {
  std::vector<uint8_t> b = data::read_file_bytes(path);
  std::vector<std::string> out;
  if (torn) *torn = false;
  size_t pos = 0;
  while (pos < b.size()) {
    if (b.size() - pos < 12) break;  // a torn header
    uint64_t len;
    std::memcpy(&len, &b[pos], 8);
    VPS_CHECK(read_u32(&b[pos + 8]) == masked_crc32c(&b[pos], 8), "TensorBoard event file '", path,
              "': the length CRC of the record at byte ", pos, " does not match");
    if (len > b.size() - pos - 12 || b.size() - pos - 12 - len < 4) break;  // a torn payload
    const uint8_t* d = &b[pos + 12];
    VPS_CHECK(read_u32(d + len) == masked_crc32c(d, len), "TensorBoard event file '", path,
              "': the data CRC of the record at byte ", pos, " does not match");
    out.emplace_back(reinterpret_cast<const char*>(d), size_t(len));
    pos += 12 + len + 4;
  }
  if (torn) *torn = pos < b.size();
  return out;
}

std::vector<EventRecord> read_event_file(const std::string& path) {
  std::vector<EventRecord> out;
  for (const std::string& payload : read_records(path)) {
    tbproto::Event e;
    VPS_CHECK(e.ParseFromString(payload), "TensorBoard event file '", path, "': event ", out.size(),
              " is not a valid Event protobuf");
    EventRecord r;
    r.wall_time = e.wall_time();
    r.step = e.step();
    if (e.has_file_version()) r.file_version = e.file_version();
    if (e.has_summary())
      for (const auto& v : e.summary().value()) {
        if (v.has_simple_value()) r.scalars[v.tag()] = v.simple_value();
        if (v.has_image()) {
          r.images[v.tag()] = v.image().encoded_image_string();
          r.image_sizes[v.tag()] = {v.image().width(), v.image().height()};
        }
      }
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::string> list_event_files(const std::string& dir) {
  std::vector<std::string> out;
  if (!data::path_exists(dir)) return out;
  for (const std::string& name : data::list_files(dir, ""))
    if (name.rfind(kPrefix, 0) == 0 && name.find(".tmp.") == std::string::npos) out.push_back(name);
  return out;  // list_files sorts by name: creation order (the time is the name's first field)
}

int64_t drop_events_after(const std::string& dir, int64_t step) {
  int64_t dropped = 0;
  for (const std::string& name : list_event_files(dir)) {
    const std::string path = data::join_path(dir, name);
    bool torn = false;
    std::string kept;
    int64_t here = 0;
    for (const std::string& payload : read_records(path, &torn)) {
      tbproto::Event e;
      VPS_CHECK(e.ParseFromString(payload), "TensorBoard event file '", path, "': a record is not an Event");
      if (!e.has_file_version() && e.step() > step) {
        ++here;
        continue;
      }
      kept += frame_record(payload);  // the same bytes as before
    }
    if (here > 0 || torn) data::write_file_atomic(path, kept);
    dropped += here;
  }
  return dropped;
}

EventFileWriter::EventFileWriter(const std::string& dir) {
  data::make_dirs(dir);
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  host[sizeof host - 1] = 0;
  const std::string stem = data::join_path(dir, std::string(kPrefix) + std::to_string(int64_t(now_seconds())) + "." +
                                                    host + "." + std::to_string(getpid()));
  // a second writer of the same process in the same second (a resume in a test) takes the next number
  for (int n = 0; !f_ && n < 1000; ++n) {
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, ".%03d", n);
    path_ = stem + suffix;
    f_ = std::fopen(path_.c_str(), "wbx");
  }
  VPS_CHECK(f_, "cannot create a TensorBoard event file in '", dir, "' (", path_, ")");
  tbproto::Event e;
  e.set_wall_time(now_seconds());
  e.set_step(0);
  e.set_file_version("brain.Event:2");
  write_event(serialize(e));
}

EventFileWriter::~EventFileWriter() {
  if (f_) std::fclose(f_);
}

void EventFileWriter::write_event(const std::string& serialized) {
  std::string r = frame_record(serialized);
  VPS_CHECK(std::fwrite(r.data(), 1, r.size(), f_) == r.size() && std::fflush(f_) == 0,
            "cannot write the TensorBoard event file '", path_, "'");
}

void EventFileWriter::add_scalars(int64_t step, const std::map<std::string, double>& values) {
  if (values.empty()) return;
  tbproto::Event e;
  e.set_wall_time(now_seconds());
  e.set_step(step);
  for (const auto& [tag, v] : values) {
    auto* value = e.mutable_summary()->add_value();
    value->set_tag(tag);
    value->set_simple_value(float(v));
  }
  write_event(serialize(e));
}

void EventFileWriter::add_image(int64_t step, const std::string& tag, const data::Image& rgb) {
  VPS_CHECK(rgb.bit_depth == 8 && rgb.channels == 3, "TensorBoard image '", tag, "': 8-bit RGB expected, got ",
            rgb.channels, " channels of ", rgb.bit_depth, " bits");
  std::vector<uint8_t> png = data::encode_png(rgb);
  tbproto::Event e;
  e.set_wall_time(now_seconds());
  e.set_step(step);
  auto* value = e.mutable_summary()->add_value();
  value->set_tag(tag);
  auto* im = value->mutable_image();
  im->set_height(rgb.height);
  im->set_width(rgb.width);
  im->set_colorspace(3);
  im->set_encoded_image_string(std::string(png.begin(), png.end()));
  write_event(serialize(e));
}

}  // namespace vps::train
