// TensorBoard event files without Python: CRC32C and its mask against published values, the record
// framing read back (a torn last record ends the file, a flipped byte is refused naming the file and
// offset), the events' fields (file_version first, scalars, PNG images), and the truncation a resumed
// run applies to the earlier files.
#include <gtest/gtest.h>

#include <cstring>

#include "data/fs_util.h"
#include "data/image_io.h"
#include "tests/expect_error.h"
#include "tests/temp_dir.h"
#include "train/event_file.h"

using namespace vps::train;

// RFC 3720 (iSCSI) appendix B.4 check values of CRC32C.
TEST(EventFile, Crc32cMatchesPublishedValues) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF), inc(32);
  for (int i = 0; i < 32; ++i) inc[size_t(i)] = uint8_t(i);
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c(inc.data(), 32), 0x46DD794Eu);
  uint32_t c = 0xE3069283u;
  EXPECT_EQ(masked_crc32c("123456789", 9), ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

TEST(EventFile, RecordsRoundTripAndTornOrCorruptRecordsAreNamed) {
  vps::test::TempDir dir;
  const std::string path = dir / "events.out.tfevents.1.h.1.000";
  std::string bytes = frame_record("first") + frame_record(std::string(300, 'x')) + frame_record("");
  ASSERT_EQ(bytes.size(), 3 * 16 + 5 + 300u);
  vps::data::write_file_atomic(path, bytes);
  bool torn = true;
  auto r = read_records(path, &torn);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0], "first");
  EXPECT_EQ(r[1], std::string(300, 'x'));
  EXPECT_EQ(r[2], "");
  EXPECT_FALSE(torn);
  // a crash in the middle of the last record: the complete ones are read, torn is reported
  vps::data::write_file_atomic(path, bytes.substr(0, bytes.size() - 7));
  r = read_records(path, &torn);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_TRUE(torn);
  // one flipped byte inside the second record's data
  std::string bad = bytes;
  bad[16 + 5 + 12 + 10] ^= 1;
  vps::data::write_file_atomic(path, bad);
  vps::testing::expect_error([&] { read_records(path); }, {path, "data CRC", "byte 21"});
  bad = bytes;
  bad[21 + 3] ^= 1;  // the second record's length
  vps::data::write_file_atomic(path, bad);
  vps::testing::expect_error([&] { read_records(path); }, {path, "length CRC", "byte 21"});
}

TEST(EventFile, WriterEventsReadBackWithTheirFields) {
  vps::test::TempDir dir;
  std::string path;
  {
    EventFileWriter w(dir.path());
    path = w.path();
    w.add_scalars(1, {{"loss/total", 2.5}, {"lr", 0.01}});
    w.add_scalars(2, {{"loss/total", 1.25}});
    vps::data::Image im = vps::data::Image::make(5, 3, 3);
    im.px(4, 2)[1] = 200;
    w.add_image(2, "eval/gt_vs_pred", im);
  }
  EXPECT_EQ(path.rfind(dir / "events.out.tfevents.", 0), 0u) << path;
  EXPECT_EQ(list_event_files(dir.path()).size(), 1u);
  auto ev = read_event_file(path);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].file_version, "brain.Event:2");
  EXPECT_EQ(ev[0].step, 0);
  EXPECT_GT(ev[0].wall_time, 1.6e9);
  EXPECT_EQ(ev[1].step, 1);
  EXPECT_FLOAT_EQ(ev[1].scalars.at("loss/total"), 2.5f);
  EXPECT_FLOAT_EQ(ev[1].scalars.at("lr"), 0.01f);
  EXPECT_EQ(ev[2].step, 2);
  EXPECT_FLOAT_EQ(ev[2].scalars.at("loss/total"), 1.25f);
  ASSERT_EQ(ev[3].images.count("eval/gt_vs_pred"), 1u);
  EXPECT_EQ(ev[3].image_sizes.at("eval/gt_vs_pred"), std::make_pair(5, 3));
  const std::string& png = ev[3].images.at("eval/gt_vs_pred");
  auto back = vps::data::decode_png(reinterpret_cast<const uint8_t*>(png.data()), png.size(), "image event");
  EXPECT_EQ(back.width, 5);
  EXPECT_EQ(back.px(4, 2)[1], 200);
  // a second writer of the same process in the same second gets a file of its own, sorted after
  EventFileWriter w2(dir.path());
  auto files = list_event_files(dir.path());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(dir / files[1], w2.path());
}

TEST(EventFile, DropEventsAfterKeepsEarlierStepsAndTheVersion) {
  vps::test::TempDir dir;
  std::string path;
  {
    EventFileWriter w(dir.path());
    path = w.path();
    for (int s = 1; s <= 5; ++s) w.add_scalars(s, {{"loss/total", double(s)}});
  }
  std::vector<uint8_t> b = vps::data::read_file_bytes(path);
  std::string bytes(b.begin(), b.end());
  vps::data::write_file_atomic(path, bytes + frame_record("half of a record").substr(0, 9));  // a crash mid-write
  EXPECT_EQ(drop_events_after(dir.path(), 3), 2);
  auto ev = read_event_file(path);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].file_version, "brain.Event:2");
  EXPECT_EQ(ev.back().step, 3);
  bool is_torn = true;
  read_records(path, &is_torn);
  EXPECT_FALSE(is_torn);
  EXPECT_EQ(drop_events_after(dir.path(), 3), 0);  // nothing more to drop: the file stays as it is
}
