#include "common/perf_table.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace batchwise {
namespace {

PerfCell Cell(int batch, int instances, double tput, double lat) {
  PerfCell c;
  c.batch_size = batch;
  c.instances = instances;
  c.throughput = tput;
  c.latency_avg_ms = c.latency_p50_ms = lat;
  c.latency_p90_ms = lat * 1.1;
  c.latency_p99_ms = lat * 1.2;
  return c;
}

PerfTable Table() {
  PerfTable t;
  t.processor_id = "cpu:0";
  t.cells = {Cell(1, 1, 100, 10), Cell(4, 1, 200, 20), Cell(8, 1, 250, 32),
             Cell(1, 2, 180, 11), Cell(4, 2, 210, 38), Cell(1, 3, 190, 15)};
  return t;
}

TEST(PerfTableTest, ProcessingPerformanceIsTheBestCell) {
  EXPECT_DOUBLE_EQ(Table().ProcessingPerformance(), 250);
}

TEST(PerfTableTest, MaxUsefulInstancesStopsWhenGainIsSmall) {
  // 1 instance: 250; 2: 210 (no gain) -> 1.
  EXPECT_EQ(Table().MaxUsefulInstances(), 1);
  PerfTable t = Table();
  t.cells.push_back(Cell(8, 2, 400, 40));  // 2 instances: 400 (+60 %); 3: 190 -> 2.
  EXPECT_EQ(t.MaxUsefulInstances(0.05), 2);
}

TEST(PerfTableTest, CapacityIsTheBestOfTheRowOrTheLargestRowBelow) {
  PerfTable t = Table();
  EXPECT_DOUBLE_EQ(t.Capacity(1), 250);
  EXPECT_DOUBLE_EQ(t.Capacity(2), 210);
  EXPECT_DOUBLE_EQ(t.Capacity(3), 190);
  EXPECT_DOUBLE_EQ(t.Capacity(5), 190);  // no 5-instance row: the 3-instance one
  EXPECT_DOUBLE_EQ(t.Capacity(0), 0);
}

TEST(PerfTableTest, LatencyInterpolatesAndExtrapolates) {
  PerfTable t = Table();
  EXPECT_DOUBLE_EQ(*t.LatencyMs(1), 10);
  EXPECT_DOUBLE_EQ(*t.LatencyMs(2.5), 15);   // halfway 1..4
  EXPECT_DOUBLE_EQ(*t.LatencyMs(6), 26);     // halfway 4..8
  EXPECT_DOUBLE_EQ(*t.LatencyMs(12), 44);    // slope 3 ms/sample past 8
  EXPECT_DOUBLE_EQ(*t.LatencyMs(0.5), 10);   // below the smallest
  EXPECT_DOUBLE_EQ(*t.LatencyMs(4, 1, 99), 24);
  EXPECT_DOUBLE_EQ(*t.LatencyMs(1, 3), 15);
  EXPECT_EQ(t.LatencyMs(1, 7).status().code(), StatusCode::kNotFound);
}

TEST(PerfTableTest, JsonRoundTrip) {
  PerfTable t = Table();
  t.simulated = true;
  t.model_name = "resnet50";
  auto back = PerfTable::FromJson(t.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ToJson(), t.ToJson());
  EXPECT_TRUE(back->simulated);
}

TEST(PerfTableTest, RejectsMalformedTables) {
  EXPECT_FALSE(PerfTable::FromJson(nlohmann::json{{"format", "other"}}).ok());
  nlohmann::json j = Table().ToJson();
  j["cells"][0]["batch_size"] = 0;
  EXPECT_EQ(PerfTable::FromJson(j).status().code(), StatusCode::kInvalidArgument);
  j = Table().ToJson();
  j["cells"][0].erase("throughput");
  EXPECT_FALSE(PerfTable::FromJson(j).ok());
  EXPECT_EQ(PerfTable::Load("/nonexistent/table.json").status().code(), StatusCode::kNotFound);
}

TEST(PerfTableTest, ReadsThePublishedGpuFigures) {
  auto t = PerfTable::FromPublishedCsv(
      std::string(BATCHWISE_SOURCE_DIR) + "/data/tables/resnet50_gpu_published.csv", "a100-80gb");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->simulated);
  EXPECT_EQ(t->cells.size(), 8u);
  EXPECT_DOUBLE_EQ(t->ProcessingPerformance(), 2857.6);  // the A100's peak at batch 32
  EXPECT_DOUBLE_EQ(*t->LatencyMs(1), 2.128);
  EXPECT_FALSE(PerfTable::FromPublishedCsv(
                   std::string(BATCHWISE_SOURCE_DIR) + "/data/tables/resnet50_gpu_published.csv",
                   "no-such-gpu")
                   .ok());
}

}  // namespace
}  // namespace batchwise
