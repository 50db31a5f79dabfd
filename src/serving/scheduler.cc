#include "serving/scheduler.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "serving/model_instance.h"

namespace batchwise {
namespace {

using nlohmann::json;

// Twice the largest model file: weights plus a workspace of the same order (an estimate used
// only until an engine reports its footprint).
uint64_t EstimateFootprint(const ModelConfig& config) {
  uint64_t largest = 0;
  for (const auto& e : config.engines) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(e.path, ec);
    if (!ec) largest = std::max<uint64_t>(largest, size);
  }
  return 2 * largest;
}

ExecutionTarget TargetFor(const Processor& p, int threads) {
  ExecutionTarget t;
  if (p.simulated) {
    t.device = ExecutionTarget::Device::kSimulated;
  } else if (p.kind == ProcessorKind::kGpu) {
    t.device = ExecutionTarget::Device::kCuda;
    t.gpu_index = p.gpu_index;
  } else {
    t.cpu_cores = p.cores;
    t.num_threads = threads;
  }
  return t;
}

std::vector<std::string> AllBut(const std::vector<Processor>& processors, const std::string& keep) {
  std::vector<std::string> out;
  for (const auto& p : processors) {
    if (p.id != keep) out.push_back(p.id);
  }
  return out;
}

}  // namespace

json MoveRecord::ToJson() const {
  return {{"at_ns", at.time_since_epoch().count()},
          {"model", model},
          {"from", from},
          {"to", to},
          {"from_workload", from_workload},
          {"to_workload", to_workload},
          {"from_workload_after", from_workload_after},
          {"to_workload_after", to_workload_after},
          {"done", done},
          {"detail", detail}};
}

Result<std::unique_ptr<Scheduler>> Scheduler::Create(const Options& options, Clock& clock,
                                                     SchedulerHardware hardware,
                                                     EngineFactory engine_factory) {
  if (!engine_factory) return InvalidArgument("scheduler needs an engine factory");
  if (hardware.processors.empty()) return InvalidArgument("scheduler needs processors");
  if (options.rebalance_period_ms < 0) return InvalidArgument("rebalance_period_ms must be >= 0");
  if (options.warmup_batches < 0) return InvalidArgument("warmup_batches must be >= 0");
  if (options.views.unprofiled_performance_per_s < 0 ||
      options.views.unprofiled_max_instances < 1) {
    return InvalidArgument("unprofiled performance must be >= 0 and max instances >= 1");
  }
  BW_RETURN_IF_ERROR(options.batching.Validate());
  BW_ASSIGN_OR_RETURN(auto placer,
                      Placer::Create({options.weights, options.decision_history}, &clock));
  BW_ASSIGN_OR_RETURN(Rebalancer rebalancer,
                      Rebalancer::Create(options.rebalance, options.weights));
  return std::unique_ptr<Scheduler>(new Scheduler(options, clock, std::move(hardware),
                                                  std::move(engine_factory), std::move(placer),
                                                  std::move(rebalancer)));
}

Scheduler::Scheduler(const Options& options, Clock& clock, SchedulerHardware hardware,
                     EngineFactory engine_factory, std::unique_ptr<Placer> placer,
                     Rebalancer rebalancer)
    : options_(options),
      clock_(clock),
      hardware_(std::move(hardware)),
      engine_factory_(std::move(engine_factory)),
      placer_(std::move(placer)),
      rebalancer_(std::move(rebalancer)) {}

Scheduler::~Scheduler() {
  Stop();
  for (const std::string& name : ModelNames()) (void)UnloadModel(name);
}

void Scheduler::Start() {
  if (hardware_.monitor) hardware_.monitor->Start();
  if (options_.rebalance_period_ms == 0 || loop_.joinable()) return;
  const TimePoint first = clock_.Now() + std::chrono::milliseconds(options_.rebalance_period_ms);
  loop_ = std::jthread([this, first](std::stop_token stop) { Loop(std::move(stop), first); });
}

void Scheduler::Stop() {
  if (loop_.joinable()) {
    loop_.request_stop();
    {
      std::lock_guard<std::mutex> l(loop_mu_);
      loop_cv_.notify_all();
    }
    loop_.join();
  }
  if (hardware_.monitor) hardware_.monitor->Stop();
}

// The re-placement loop: sleep one period on the clock, take one step, repeat.
void Scheduler::Loop(std::stop_token stop, TimePoint next) {
  const Duration period = std::chrono::milliseconds(options_.rebalance_period_ms);
  while (!stop.stop_requested()) {
    {
      std::unique_lock<std::mutex> l(loop_mu_);
      while (!stop.stop_requested() && !clock_.WaitUntil(l, loop_cv_, next)) {
      }
    }
    if (stop.stop_requested()) return;
    (void)RebalanceOnce();
    next = std::max(next + period, clock_.Now());
  }
}

// --- Views of processors ---

const Processor* Scheduler::ProcessorById(const std::string& id) const {
  for (const auto& p : hardware_.processors) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

ProcessorPerformance Scheduler::PerformanceFor(const Processor& p) const {
  auto it = hardware_.profiles.find(p.id);
  return PerformanceOf(p, it == hardware_.profiles.end() ? nullptr : &it->second, options_.views);
}

std::vector<ProcessorView> Scheduler::ViewsLocked(const ModelRuntime* replaced) const {
  std::vector<ProcessorState> states;
  if (hardware_.monitor) states = hardware_.monitor->Snapshot();
  std::map<std::string, Occupancy> occupancy = occupancy_;
  if (replaced != nullptr) {
    for (const std::string& id : replaced->ProcessorIds()) {
      Occupancy& occ = occupancy[id];
      occ.instances = std::max(0, occ.instances - 1);
      const double perf = PerformanceFor(*ProcessorById(id)).samples_per_s;
      if (perf > 0) {
        occ.reserved_utilization =
            std::max(0.0, occ.reserved_utilization - replaced->expected_rate_per_s() / perf);
      }
    }
  }
  std::vector<ProcessorView> views;
  for (const auto& p : hardware_.processors) {
    const ProcessorState* state = nullptr;
    for (const auto& s : states) {
      if (s.id == p.id) state = &s;
    }
    views.push_back(MakeProcessorView(p, state, PerformanceFor(p), occupancy[p.id]));
  }
  return views;
}

std::vector<ProcessorView> Scheduler::ProcessorViews() const {
  std::lock_guard<std::mutex> l(admin_mu_);
  return ViewsLocked();
}

// --- Loading ---

std::shared_ptr<ModelRuntime> Scheduler::Find(const std::string& model) const {
  std::lock_guard<std::mutex> l(models_mu_);
  auto it = models_.find(model);
  return it == models_.end() ? nullptr : it->second;
}

std::shared_ptr<ModelRuntime> Scheduler::FindAdmitted(
    const std::string& model, std::shared_lock<std::shared_mutex>& admitted) const {
  std::lock_guard<std::mutex> l(models_mu_);
  auto it = models_.find(model);
  if (it == models_.end()) return nullptr;
  admitted = it->second->Admit();
  return it->second;
}

ModelRequirements Scheduler::RequirementsFor(const ModelRuntime& model) const {
  ModelRequirements r;
  r.name = model.config().name;
  r.memory_bytes = model.memory_estimate_bytes();
  for (const auto& e : model.config().engines) r.engines.emplace_back(EngineKindName(e.engine));
  r.engines.emplace_back(EngineKindName(EngineKind::kSimulated));  // any model, simulated
  r.allowed_kinds = model.config().processor_kinds;
  r.expected_rate_per_s = model.expected_rate_per_s();  // the look-ahead (Placer::Place)
  return r;
}

Status Scheduler::LoadModel(const ModelConfig& config, const LoadOptions& load) {
  std::lock_guard<std::mutex> admin(admin_mu_);
  std::shared_ptr<ModelRuntime> old = Find(config.name);
  if (old != nullptr && !load.replace) {
    return AlreadyExists("model '" + config.name + "' is already loaded");
  }
  if (!load.processor.empty() && ProcessorById(load.processor) == nullptr) {
    return NotFound("no processor '" + load.processor + "'");
  }
  BW_ASSIGN_OR_RETURN(BatcherOptions batching, ModelBatchingOptions(config, options_.batching));
  auto model = std::make_shared<ModelRuntime>(
      config, load.expected_rate_per_s,
      load.memory_bytes > 0 ? load.memory_bytes : EstimateFootprint(config), batching);
  // An engine that fails to start on the chosen processor may start on another: each failure
  // excludes its processor (the next decision record says why) and placement runs again.
  std::map<std::string, std::string> failed;
  std::unique_ptr<ModelInstance> instance;
  Status failures;  // the last engine error's code; every failure's message
  while (instance == nullptr) {
    auto d = PlaceLocked(*model, load, old.get(), failed);
    if (!d.ok()) {
      if (failed.empty()) return d.status();
      return Status(failures.code(), "no processor could start '" + config.name +
                                         "' (tried " + std::to_string(failed.size()) +
                                         "): " + failures.message());
    }
    auto started = StartInstanceLocked(*model, *d);
    if (started.ok()) {
      instance = std::move(started).value();
    } else {
      failed[d->chosen] = ClientMessage(started.status().message());
      failures = Status(started.status().code(),
                        failures.message() + (failed.size() > 1 ? "; " : "") +
                            started.status().message());
    }
  }
  model->Add(std::move(instance));
  {
    std::lock_guard<std::mutex> l(models_mu_);
    models_[config.name] = std::move(model);  // the switch: new requests find the new runtime
  }
  if (old != nullptr) {
    for (auto& retired : old->TakeAll()) RetireLocked(*old, std::move(retired));
  }
  return Status::Ok();
}

// Asks the placer for a processor for `model`: the pinned one when `load` names it, else the
// least-workload one; `replaced`'s instances count as gone, `failed` processors are out. When
// every processor is at its instance limit and `load.overcommit`, the least-workload one that can
// run the model takes one instance more (the record says so).
Result<PlacementDecision> Scheduler::PlaceLocked(const ModelRuntime& model, const LoadOptions& load,
                                                 const ModelRuntime* replaced,
                                                 const std::map<std::string, std::string>& failed) {
  ModelRequirements req = RequirementsFor(model);
  req.failed_on = failed;
  std::vector<ProcessorView> views = ViewsLocked(replaced);
  auto lift_limits = [&views] {
    for (auto& v : views) v.max_instances = std::max(v.max_instances, v.instances + 1);
  };
  if (!load.processor.empty()) {
    req.excluded_processors = AllBut(hardware_.processors, load.processor);
    lift_limits();
  }
  PlacementDecision d = placer_->Place(req, views);
  if (d.chosen.empty() && load.overcommit && load.processor.empty() &&
      std::any_of(d.candidates.begin(), d.candidates.end(),
                  [](const CandidateScore& c) { return c.at_instance_limit; })) {
    req.note = "every processor that can run it is at its instance limit: overcommitted";
    lift_limits();
    d = placer_->Place(req, views);
  }
  if (d.chosen.empty()) {
    return ResourceExhausted("cannot place model '" + model.config().name + "': " + d.reason);
  }
  return d;
}

Result<std::unique_ptr<Engine>> Scheduler::MakeEngineLocked(ModelRuntime& model, const Processor& p,
                                                            EngineKind engine) {
  const ProcessorPerformance perf = PerformanceFor(p);
  InstanceSpec spec{&model.config(), &p, engine,
                    TargetFor(p, ThreadsPerInstance(p, perf.max_instances)), &clock_};
  BW_ASSIGN_OR_RETURN(auto created, engine_factory_(spec));
  if (!p.simulated) return created;
  auto& lock = device_locks_[p.id];
  if (lock == nullptr) lock = std::make_shared<std::mutex>();
  const uint64_t footprint =
      std::max<uint64_t>(created->memory_footprint_bytes(), model.memory_estimate_bytes());
  return OnSimulatedProcessor(std::move(created), p, lock, footprint, clock_);
}

// Creates, warms and starts an instance where `d` chose, and books it on that processor.
Result<std::unique_ptr<ModelInstance>> Scheduler::StartInstanceLocked(
    ModelRuntime& model, const PlacementDecision& d, std::optional<ControllerState> resume) {
  const Processor& p = *ProcessorById(d.chosen);
  BW_ASSIGN_OR_RETURN(EngineKind kind, ParseEngineKind(d.engine));
  auto engine = MakeEngineLocked(model, p, kind);
  if (!engine.ok()) {
    return engine.status().WithContext("loading '" + model.config().name + "' on " + p.id);
  }
  // The busy share is measured over the time an imbalance must last to count (at least 1 s).
  ModelInstance::Options o{model.config().name, p.id, model.batching(), options_.warmup_batches,
                           std::max<Duration>(options_.rebalance.sustain, std::chrono::seconds(1))};
  o.batching.resume_controller = std::move(resume);
  BW_ASSIGN_OR_RETURN(auto instance,
                      ModelInstance::Create(o, std::move(engine).value(), &model.stats(), clock_));
  Occupancy& occ = occupancy_[p.id];
  ++occ.instances;
  const double perf = PerformanceFor(p).samples_per_s;
  if (perf > 0) occ.reserved_utilization += model.expected_rate_per_s() / perf;
  return instance;
}

// Drains an instance that no longer gets traffic, destroys it, and frees its booking.
void Scheduler::RetireLocked(ModelRuntime& model, std::unique_ptr<ModelInstance> instance) {
  const Processor* p = ProcessorById(instance->processor_id());
  instance->Drain();
  instance.reset();
  Occupancy& occ = occupancy_[p->id];
  occ.instances = std::max(0, occ.instances - 1);
  const double perf = PerformanceFor(*p).samples_per_s;
  if (perf > 0) {
    occ.reserved_utilization =
        std::max(0.0, occ.reserved_utilization - model.expected_rate_per_s() / perf);
  }
}

Status Scheduler::UnloadModel(const std::string& name) {
  std::lock_guard<std::mutex> admin(admin_mu_);
  std::shared_ptr<ModelRuntime> model;
  {
    std::lock_guard<std::mutex> l(models_mu_);
    auto it = models_.find(name);
    if (it == models_.end()) return NotFound("model '" + name + "' is not loaded");
    model = std::move(it->second);
    models_.erase(it);
  }
  for (auto& instance : model->TakeAll()) RetireLocked(*model, std::move(instance));
  return Status::Ok();
}

// --- Requests ---

Status Scheduler::Infer(InferRequest request, InferCallback done) {
  std::shared_lock<std::shared_mutex> admitted;  // a reload or unload waits for Route()
  std::shared_ptr<ModelRuntime> model = FindAdmitted(request.model, admitted);
  if (model == nullptr) return NotFound("unknown model '" + request.model + "'");
  BW_ASSIGN_OR_RETURN(PreparedRequest prepared,
                      PrepareRequest(model->config(), std::move(request), std::move(done)));
  return model->Route(&prepared.request, prepared.batch_size);
}

Status Scheduler::CheckAdmission(const std::string& model, int batch_size,
                                 TimePoint received) const {
  std::shared_ptr<ModelRuntime> runtime = Find(model);
  if (runtime == nullptr) return NotFound("unknown model '" + model + "'");
  return runtime->CheckAdmission(batch_size, received);
}

// --- Re-placement ---

std::optional<MoveRecord> Scheduler::RebalanceOnce() {
  std::lock_guard<std::mutex> admin(admin_mu_);
  struct CountStep {
    std::atomic<uint64_t>& steps;
    ~CountStep() { steps.fetch_add(1, std::memory_order_release); }
  } count{rebalance_steps_};
  std::vector<ProcessorView> views = ViewsLocked();
  double max_perf = 0;
  for (const auto& v : views) max_perf = std::max(max_perf, v.performance);
  std::map<std::string, std::vector<InstanceLoad>> loads;  // by processor
  for (const InstanceInfo& i : Instances()) {
    loads[i.processor].push_back({i.model, i.busy_fraction});
  }
  std::vector<WorkloadSample> samples;
  for (const auto& v : views) {
    samples.push_back({v.id, Workload(v, max_perf, options_.weights),
                       std::clamp(std::max(v.utilization, v.reserved_utilization), 0.0, 1.0),
                       v.performance, loads[v.id]});
  }
  std::optional<Rebalancer::Move> move = rebalancer_.Observe(clock_.Now(), samples);
  if (!move) return std::nullopt;
  MoveRecord record = MoveLocked(*move);
  RecordMove(record);
  return record;
}

// Tries the helpful candidates in order of gain; the first that can be placed on `move.to` moves.
// With none helpful, nothing moves and the record says why (the after-move numbers).
MoveRecord Scheduler::MoveLocked(const Rebalancer::Move& move) {
  MoveRecord record;
  record.at = clock_.Now();
  record.from = move.from;
  record.to = move.to;
  record.from_workload = move.from_workload;
  record.to_workload = move.to_workload;
  if (move.best) {
    record.model = move.best->model;
    record.from_workload_after = move.best->from_workload_after;
    record.to_workload_after = move.best->to_workload_after;
  }
  if (move.helpful.empty()) {
    record.detail = "not moved: " + move.detail;
    return record;
  }
  std::string why;
  for (const Rebalancer::Candidate& c : move.helpful) {
    std::shared_ptr<ModelRuntime> model = Find(c.model);
    if (model == nullptr) continue;  // unloaded since it was measured
    if (TryMoveLocked(*model, move, record)) {
      record.from_workload_after = c.from_workload_after;
      record.to_workload_after = c.to_workload_after;
      record.detail += "; " + move.detail;
      return record;
    }
    why += (why.empty() ? "" : "; ") + c.model + ": " + record.detail;
  }
  record.model = move.best->model;  // none could be placed: the best is the one to show
  record.from_workload_after = move.best->from_workload_after;
  record.to_workload_after = move.best->to_workload_after;
  record.detail = why.empty() ? "no instance to move runs on " + move.from : why;
  return record;
}

// Start the new instance (its batcher resuming the old one's controller), switch traffic to it,
// then drain and destroy the old one.
bool Scheduler::TryMoveLocked(ModelRuntime& model, const Rebalancer::Move& move,
                              MoveRecord& record) {
  record.model = model.config().name;
  ModelRequirements req = RequirementsFor(model);
  req.excluded_processors = AllBut(hardware_.processors, move.to);
  PlacementDecision d = placer_->Place(req, ViewsLocked());
  if (d.chosen.empty()) {
    for (const auto& c : d.candidates) {
      if (c.processor_id == move.to) record.detail = move.to + " " + c.excluded;
    }
    return false;
  }
  auto fresh = StartInstanceLocked(model, d, model.ControllerOn(move.from));
  if (!fresh.ok()) {
    record.detail = fresh.status().ToString();
    return false;
  }
  std::unique_ptr<ModelInstance> old = model.Replace(move.from, std::move(fresh).value());
  RetireLocked(model, std::move(old));
  record.done = true;
  record.detail = "moved: new instance warmed and routed on " + move.to + ", old one drained";
  return true;
}

void Scheduler::RecordMove(const MoveRecord& record) {
  std::lock_guard<std::mutex> l(moves_mu_);
  moves_.push_back(record);
  if (moves_.size() > options_.move_history) moves_.erase(moves_.begin());
}

// --- Views ---

std::vector<std::string> Scheduler::ModelNames() const {
  std::lock_guard<std::mutex> l(models_mu_);
  std::vector<std::string> names;
  for (const auto& [name, m] : models_) names.push_back(name);
  return names;
}

Result<ModelConfig> Scheduler::LoadedConfig(const std::string& model) const {
  auto m = Find(model);
  if (m == nullptr) return NotFound("model '" + model + "' is not loaded");
  return m->config();
}

std::vector<InstanceInfo> Scheduler::Instances(const std::string& model) const {
  std::vector<std::shared_ptr<ModelRuntime>> models;
  {
    std::lock_guard<std::mutex> l(models_mu_);
    for (const auto& [name, m] : models_) {
      if (model.empty() || name == model) models.push_back(m);
    }
  }
  std::vector<InstanceInfo> out;
  for (const auto& m : models) {
    for (auto& info : m->Infos()) out.push_back(std::move(info));
  }
  return out;
}

std::vector<PlacementDecision> Scheduler::Decisions(const std::string& model) const {
  return placer_->Decisions(model);
}

std::vector<MoveRecord> Scheduler::Moves() const {
  std::lock_guard<std::mutex> l(moves_mu_);
  return moves_;
}

json Scheduler::PlacementsJson(const std::string& model) const {
  json decisions = json::array(), moves = json::array(), instances = json::array();
  for (const auto& d : Decisions(model)) decisions.push_back(d.ToJson());
  for (const auto& m : Moves()) {
    if (model.empty() || m.model == model) moves.push_back(m.ToJson());
  }
  for (const auto& i : Instances(model)) {
    instances.push_back({{"model", i.model},
                         {"processor", i.processor},
                         {"engine", i.engine},
                         {"simulated", i.simulated},
                         {"in_flight_samples", i.in_flight_samples},
                         {"completed_requests", i.completed_requests},
                         {"busy_fraction", i.busy_fraction}});
  }
  return {{"decisions", decisions}, {"moves", moves}, {"instances", instances}};
}

json Scheduler::ProcessorsJson() const {
  std::vector<ProcessorView> views = ProcessorViews();
  double max_perf = 0;
  for (const auto& v : views) max_perf = std::max(max_perf, v.performance);
  json out = json::array();
  for (const auto& v : views) {
    out.push_back({{"id", v.id},
                   {"kind", v.kind},
                   {"simulated", v.simulated},
                   {"utilization", v.utilization},
                   {"reserved_utilization", v.reserved_utilization},
                   {"memory_utilization", v.memory_utilization},
                   {"memory_free_bytes", v.memory_free_bytes},
                   {"performance", v.performance},
                   {"performance_source", PerformanceFor(*ProcessorById(v.id)).source},
                   {"instances", v.instances},
                   {"max_instances", v.max_instances},
                   {"workload", Workload(v, max_perf, options_.weights)}});
  }
  return out;
}

json Scheduler::ModelsJson() const {
  std::vector<std::shared_ptr<ModelRuntime>> models;
  {
    std::lock_guard<std::mutex> l(models_mu_);
    for (const auto& [name, m] : models_) models.push_back(m);
  }
  json out = json::array();
  for (const auto& m : models) {
    json batchers = json::array();
    for (const BatcherState& s : m->BatcherStates()) {
      batchers.push_back({{"policy", BatchPolicyName(s.controller.policy)},
                          {"batch_size", s.controller.batch_size},
                          {"settled", s.controller.settled},
                          {"z", s.controller.trend.z},
                          {"trend", TrendName(s.controller.trend.trend)},
                          {"trend_significant", s.controller.trend.significant},
                          {"last_decision", ControllerReasonName(s.controller.last_decision)},
                          {"last_latency_ms", s.controller.last_latency_ms},
                          {"size_changes", s.controller.size_changes},
                          {"direction_changes", s.controller.direction_changes},
                          {"queued_samples", s.queued_samples},
                          {"in_flight_samples", s.in_flight_samples},
                          {"batches", s.stats.batches}});
    }
    const BatcherOptions& o = m->batching();
    out.push_back({{"name", m->config().name},
                   {"state", "READY"},
                   {"latency_target_ms", o.controller.latency_target_micros / 1000.0},
                   {"required_throughput_per_s", o.controller.required_throughput_per_s},
                   {"step_size", o.controller.step_size},
                   {"trend_window", o.controller.trend.window},
                   {"trend_alpha", o.controller.trend.alpha},
                   {"reversal_confirmations", o.controller.trend.reversal_confirmations},
                   {"max_queue_delay_us", o.max_queue_delay_micros},
                   {"processors", m->ProcessorIds()},
                   {"batching", batchers}});
  }
  return out;
}

Result<json> Scheduler::StatsJson(const std::string& model) const {
  json stats = json::array();
  if (!model.empty()) {
    auto m = Find(model);
    if (m == nullptr) return NotFound("unknown model '" + model + "'");
    stats.push_back(m->stats().ToJson(model, m->config().version));
  } else {
    std::lock_guard<std::mutex> l(models_mu_);
    for (const auto& [name, m] : models_) {
      stats.push_back(m->stats().ToJson(name, m->config().version));
    }
  }
  return json{{"model_stats", stats}};
}

}  // namespace batchwise
