// Behaviour of optim beyond the golden trajectories: param groups, zero_grad, state dicts and an
// exact save/resume, options by name, schedulers' state, clipping's non-finite modes, and the
// fused update's independence of thread count, dtype and memory layout.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "tapegrad/tapegrad.h"

using namespace tg;
using namespace tg::optim;

namespace {

/// A small regression problem in float64: mean((tanh(x @ w + b) - y)^2).
struct Problem {
  Tensor x = tg::tensor({{0.5, -1.0, 0.3}, {1.2, 0.1, -0.7}, {-0.4, 0.8, 0.9}, {0.2, -0.3, -1.1}}, kFloat64);
  Tensor y = tg::tensor({{0.3, -0.2}, {-0.5, 0.4}, {0.1, 0.6}, {-0.3, -0.1}}, kFloat64);
  Tensor w0 = tg::tensor({{0.2, -0.1}, {0.05, 0.3}, {-0.25, 0.15}}, kFloat64);
  Tensor b0 = tg::tensor({0.1, -0.05}, kFloat64);
  Tensor loss(const Tensor& w, const Tensor& b) const {
    return tg::mean(tg::pow(tg::sub(tg::tanh(tg::add(tg::matmul(x, w), b)), y), 2.0));
  }
};

/// Fresh parameters (leaves that require grad) holding copies of the given values.
Tensor leaf(const Tensor& values) { return values.detach().clone().requires_grad_(); }

std::vector<double> values_of(const Tensor& t) { return t.to_vector<double>(); }

}  // namespace

// ---- the update and the groups ------------------------------------------------------------

TEST_CASE("plain SGD keeps its two-argument constructor and computes p - lr * grad", "[optim]") {
  const Tensor w = tg::tensor({1.0, -2.0, 3.0}, kFloat64).requires_grad_();
  SGD opt({w}, 0.1);
  (w * w).sum().backward();  // grad = 2w
  opt.step();
  CHECK(values_of(w) == std::vector<double>{1.0 - 0.1 * 2.0, -2.0 - 0.1 * -4.0, 3.0 - 0.1 * 6.0});
  CHECK(opt.name() == "SGD");
  CHECK(opt.param_groups().size() == 1);
  CHECK(opt.param_groups()[0].lr() == 0.1);
}

TEST_CASE("step skips parameters without a gradient and gives them no state", "[optim]") {
  const Tensor used = tg::tensor({1.0, 2.0}, kFloat64).requires_grad_();
  const Tensor unused = tg::tensor({5.0}, kFloat64).requires_grad_();
  const Tensor frozen = tg::tensor({7.0}, kFloat64);  // does not require grad: allowed, never updated
  Adam opt({used, unused, frozen}, AdamOptions(0.1));
  (used * used).sum().backward();
  opt.step();
  CHECK(values_of(unused) == std::vector<double>{5.0});
  CHECK(values_of(frozen) == std::vector<double>{7.0});
  CHECK_FALSE(opt.state(0).empty());
  CHECK(opt.state(1).empty());
  CHECK(opt.state(2).empty());
  // Adam's state, in PyTorch's order.
  const auto& entries = opt.state(0).entries();
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].first == "step");
  CHECK(entries[1].first == "exp_avg");
  CHECK(entries[2].first == "exp_avg_sq");
  CHECK(entries[0].second.item() == 1.0);
}

TEST_CASE("zero_grad drops the gradients by default and zeroes them in place on request", "[optim]") {
  const Tensor w = tg::tensor({1.0, 2.0}, kFloat64).requires_grad_();
  SGD opt({w}, SGDOptions(0.1).momentum(0.9));
  (w * w).sum().backward();
  const Tensor g = w.grad();
  opt.zero_grad(/*set_to_none=*/false);
  REQUIRE(w.grad().defined());
  CHECK(w.grad().shares_storage_with(g));
  CHECK(values_of(w.grad()) == std::vector<double>{0.0, 0.0});
  opt.zero_grad();
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("param groups carry their own options, and add_param_group extends the numbering", "[optim]") {
  const Tensor a = tg::tensor({1.0}, kFloat64).requires_grad_();
  const Tensor b = tg::tensor({1.0}, kFloat64).requires_grad_();
  const Tensor c = tg::tensor({1.0}, kFloat64).requires_grad_();
  SGD opt(std::vector<ParamGroup>{ParamGroup({a}), ParamGroup({b}, SGDOptions(0.5))}, SGDOptions(0.1));
  opt.add_param_group(ParamGroup({c}, SGDOptions(0.01).momentum(0.9)));
  REQUIRE(opt.param_groups().size() == 3);
  CHECK(opt.param_groups()[2].options_as<SGDOptions>().momentum() == 0.9);
  for (const Tensor& p : {a, b, c}) (p * 2.0).sum().backward();  // every gradient is 2
  opt.step();
  CHECK(a.item() == 1.0 - 0.1 * 2.0);
  CHECK(b.item() == 1.0 - 0.5 * 2.0);
  CHECK(c.item() == 1.0 - 0.01 * 2.0);
  CHECK(opt.parameters().size() == 3);
  CHECK(opt.state(2).find("momentum_buffer").defined());
  CHECK(opt.state(0).empty());
}

TEST_CASE("the step bumps the parameter's version, so autograd catches a stale saved value", "[optim]") {
  const Tensor w = tg::tensor({1.0, 2.0}, kFloat64).requires_grad_();
  SGD opt({w}, 0.1);
  const Tensor y = (w * w).sum();  // saves w for backward
  y.backward(Tensor(), /*retain_graph=*/true);
  const auto before = w.version();
  opt.step();
  CHECK(w.version() > before);
  CHECK_THROWS_AS(y.backward(), Error);
}

TEST_CASE("options by name: get, set (validated), to_map and from_map", "[optim]") {
  AdamOptions o(0.01);
  o.betas(0.8, 0.9).amsgrad(true);
  CHECK(o.has("beta1"));
  CHECK_FALSE(o.has("momentum"));
  CHECK(o.get("beta2") == 0.9);
  CHECK(o.get("amsgrad") == 1.0);
  o.set("eps", 1e-6);
  CHECK(o.eps() == 1e-6);
  CHECK_THROWS_WITH(o.set("beta1", 1.0), Catch::Contains("beta1") && Catch::Contains("[0, 1)"));
  CHECK(o.beta1() == 0.8);  // unchanged after the error
  AdamOptions copy;
  copy.from_map(o.to_map());
  CHECK(copy.to_map() == o.to_map());
}

// ---- state dicts and an exact resume --------------------------------------------------------

TEST_CASE("state_dict holds each group's options and copies of the per-parameter state", "[optim]") {
  Problem pb;
  const Tensor w = leaf(pb.w0), b = leaf(pb.b0);
  SGD opt(std::vector<ParamGroup>{ParamGroup({w}), ParamGroup({b}, SGDOptions(0.05).nesterov(true).momentum(0.5))},
          SGDOptions(0.1).momentum(0.9));
  StepLR sched(opt, 2);
  opt.zero_grad();
  pb.loss(w, b).backward();
  opt.step();
  const OptimizerState s = opt.state_dict();
  CHECK(s.optimizer == "SGD");
  REQUIRE(s.groups.size() == 2);
  CHECK(s.groups[0].params == std::vector<std::int64_t>{0});
  CHECK(s.groups[1].params == std::vector<std::int64_t>{1});
  CHECK(s.groups[0].options.at("momentum") == 0.9);
  CHECK(s.groups[1].options.at("nesterov") == 1.0);
  CHECK(s.groups[1].options.at("initial_lr") == 0.05);  // set by the scheduler
  REQUIRE(s.state.size() == 2);
  CHECK(s.state[1].param == 1);
  REQUIRE(s.state[1].tensors.size() == 1);
  CHECK(s.state[1].tensors[0].first == "momentum_buffer");
  // The saved state is a copy: later steps do not change it.
  const std::vector<double> saved = values_of(s.state[0].tensors[0].second);
  pb.loss(w, b).backward();
  opt.step();
  CHECK(values_of(s.state[0].tensors[0].second) == saved);
  CHECK(values_of(opt.state(0).find("momentum_buffer")) != saved);
}

namespace {

/// One optimizer and scheduler configuration for the save/resume test.
struct Config {
  std::string name;
  std::function<std::unique_ptr<Optimizer>(const Tensor& w, const Tensor& b)> optimizer;
  std::function<std::shared_ptr<LRScheduler>(Optimizer&)> scheduler;  // or null, with a plateau
  bool plateau = false;
};

std::vector<Config> configs() {
  using G = std::vector<ParamGroup>;
  return {
      {"SGD nesterov, weight decay, two groups, StepLR",
       [](const Tensor& w, const Tensor& b) {
    return std::make_unique<SGD>(G{ParamGroup({w}), ParamGroup({b}, SGDOptions(0.03).momentum(0.5))},
                                 SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(0.01));
       },
       [](Optimizer& o) { return std::make_shared<StepLR>(o, 3, 0.5); }},
      {"Adam amsgrad with OneCycleLR cycling beta1",
       [](const Tensor& w, const Tensor& b) {
    return std::make_unique<Adam>(std::vector<Tensor>{w, b}, AdamOptions(0.05).amsgrad(true).weight_decay(0.1));
       },
       [](Optimizer& o) { return std::make_shared<OneCycleLR>(o, OneCycleLROptions(0.1, 20)); }},
      {"AdamW with CosineAnnealingLR",
       [](const Tensor& w, const Tensor& b) {
    return std::make_unique<AdamW>(std::vector<Tensor>{w, b}, AdamWOptions(0.05).weight_decay(0.2));
       },
       [](Optimizer& o) { return std::make_shared<CosineAnnealingLR>(o, 7, 0.001); }},
      {"RMSprop centered with momentum, SequentialLR of LinearLR and ExponentialLR",
       [](const Tensor& w, const Tensor& b) {
    return std::make_unique<RMSprop>(std::vector<Tensor>{w, b},
                                     RMSpropOptions(0.01).centered(true).momentum(0.5).alpha(0.9));
       },
       [](Optimizer& o) {
    auto warm = std::make_shared<LinearLR>(o, 0.2, 1.0, 4);
    auto decay = std::make_shared<ExponentialLR>(o, 0.9);
    return std::make_shared<SequentialLR>(o, std::vector<std::shared_ptr<LRScheduler>>{warm, decay},
                                          std::vector<std::int64_t>{4});
      }},
      {"Adagrad with lr_decay and ReduceLROnPlateau",
       [](const Tensor& w, const Tensor& b) {
    return std::make_unique<Adagrad>(std::vector<Tensor>{w, b},
                                     AdagradOptions(0.2).lr_decay(0.05).initial_accumulator_value(0.1));
       },
       nullptr, true},
      {"SGD maximize with dampening and a LambdaLR warm-up",
       [](const Tensor& w, const Tensor& b) {
    return std::make_unique<SGD>(std::vector<Tensor>{w, b},
                                 SGDOptions(0.02).momentum(0.3).dampening(0.1).maximize(true));
       },
       [](Optimizer& o) {
    return std::make_shared<LambdaLR>(o, [](std::int64_t e) { return std::min(1.0, (e + 1) / 5.0); });
      }},
      };
}

/// What a checkpoint would hold.
struct SavedState {
  Tensor w, b;
  OptimizerState optimizer;
  SchedulerState scheduler;
};

struct Training {
  Tensor w, b;
  std::unique_ptr<Optimizer> opt;
  std::shared_ptr<LRScheduler> sched;
  std::unique_ptr<ReduceLROnPlateau> plateau;

  Training(const Config& c, const Tensor& w_values, const Tensor& b_values) : w(leaf(w_values)), b(leaf(b_values)) {
    opt = c.optimizer(w, b);
    if (c.plateau) {
      plateau = std::make_unique<ReduceLROnPlateau>(*opt, ReduceLROnPlateauOptions().patience(1).factor(0.5));
    } else {
      sched = c.scheduler(*opt);
    }
  }
  void train(const Problem& pb, int steps) {
    for (int i = 0; i < steps; ++i) {
      opt->zero_grad();
      const Tensor loss = pb.loss(w, b);
      loss.backward();
      opt->step();
      if (plateau) {
        plateau->step(0.5);  // a flat metric: the lr drops every other epoch
      } else {
        sched->step();
      }
    }
  }
  SavedState save() const {
    return {w.detach().clone(), b.detach().clone(), opt->state_dict(),
            plateau ? plateau->state_dict() : sched->state_dict()};
  }
  void load(const SavedState& c) {
    opt->load_state_dict(c.optimizer);
    if (plateau) {
      plateau->load_state_dict(c.scheduler);
    } else {
      sched->load_state_dict(c.scheduler);
    }
  }
  std::vector<double> lrs() const {
    std::vector<double> out;
    for (const ParamGroup& g : opt->param_groups()) out.push_back(g.lr());
    return out;
  }
};

}  // namespace

TEST_CASE("train 10 steps, save, load into fresh objects, train 10 more: equal to 20 steps bit for bit", "[optim]") {
  Problem pb;
  for (const Config& c : configs()) {
    INFO(c.name);
    Training straight(c, pb.w0, pb.b0);
    straight.train(pb, 20);

    SavedState saved;
    {
      Training first(c, pb.w0, pb.b0);
      first.train(pb, 10);
      saved = first.save();
    }
    Training resumed(c, saved.w, saved.b);  // fresh parameters, optimizer and scheduler
    resumed.load(saved);
    resumed.train(pb, 10);

    CHECK(values_of(resumed.w) == values_of(straight.w));
    CHECK(values_of(resumed.b) == values_of(straight.b));
    CHECK(resumed.lrs() == straight.lrs());
    CHECK(resumed.opt->param_groups()[0].options->to_map() == straight.opt->param_groups()[0].options->to_map());
    CHECK(values_of(resumed.w) != values_of(pb.w0));
  }
}

TEST_CASE("load_state_dict converts state to the parameter's dtype and matches parameters by position", "[optim]") {
  const Tensor a64 = tg::tensor({1.0, 2.0}, kFloat64).requires_grad_();
  Adam src({a64}, AdamOptions(0.1));
  (a64 * a64).sum().backward();
  src.step();
  const Tensor a32 = tg::tensor({1.0f, 2.0f}).requires_grad_();
  Adam dst({a32}, AdamOptions(0.5));
  dst.load_state_dict(src.state_dict());
  CHECK(dst.param_groups()[0].lr() == 0.1);
  CHECK(dst.state(0).find("exp_avg").dtype() == kFloat32);
  CHECK(dst.state(0).find("step").dtype() == kFloat64);
  CHECK(dst.state(0).find("step").item() == 1.0);
}

// ---- the fused update --------------------------------------------------------------------------

TEST_CASE("the fused update gives the same bits on 1 and 2 threads for a tensor above the grain", "[optim][threads]") {
  const int threads = get_num_threads();
  auto run = [](int n_threads) {
    set_num_threads(n_threads);
    Generator gen(7);
    const Tensor w = tg::randn({300000}, kFloat32, &gen).requires_grad_();
    const Tensor g = tg::randn({300000}, kFloat32, &gen);
    Adam adam({w}, AdamOptions(0.01).amsgrad(true));
    for (int i = 0; i < 3; ++i) {
      w.set_grad(tg::mul(g, 1.0 + i));
      adam.step();
    }
    const Tensor v = tg::randn({300000}, kFloat32, &gen).requires_grad_();
    v.set_grad(g);
    clip_grad_value_({v}, 0.5);
    return std::make_tuple(w.to_vector<float>(), clip_grad_norm_({w, v}, 1.0), v.grad().to_vector<float>());
  };
  const auto one = run(1);
  const auto two = run(2);
  set_num_threads(threads);
  CHECK(std::get<0>(one) == std::get<0>(two));
  CHECK(std::get<1>(one) == std::get<1>(two));
  CHECK(std::get<2>(one) == std::get<2>(two));
}

TEST_CASE("float32 Adam follows float64 Adam, and a non-contiguous parameter is updated in place", "[optim]") {
  Problem pb;
  auto train = [&](DType dtype, bool transposed) {
    // w is held as [2, 3] and used transposed when asked: a leaf whose memory is not contiguous.
    Tensor w = transposed ? pb.w0.t().contiguous().to(dtype).t() : pb.w0.to(dtype).clone();
    w.requires_grad_();
    const Tensor b = pb.b0.to(dtype).clone().requires_grad_();
    CHECK(w.is_contiguous() == !transposed);
    Adam opt({w, b}, AdamOptions(0.05));
    const Tensor x = pb.x.to(dtype), y = pb.y.to(dtype);
    for (int i = 0; i < 10; ++i) {
      opt.zero_grad();
      tg::mean(tg::pow(tg::sub(tg::tanh(tg::add(tg::matmul(x, w), b)), y), 2.0)).backward();
      opt.step();
    }
    return values_of(w.to(kFloat64));
  };
  const auto ref = train(kFloat64, false);
  CHECK(train(kFloat64, true) == ref);
  const auto f32 = train(kFloat32, false);
  for (std::size_t i = 0; i < ref.size(); ++i) CHECK(f32[i] == Approx(ref[i]).epsilon(1e-5));
}

// ---- schedulers --------------------------------------------------------------------------------

TEST_CASE("a scheduler writes its lrs into the groups and reports them", "[optim]") {
  const Tensor w = tg::tensor({1.0}, kFloat64).requires_grad_();
  SGD opt({w}, 1.0);
  StepLR sched(opt, 2, 0.5);
  CHECK(sched.last_epoch() == 0);
  CHECK(sched.base_lrs() == std::vector<double>{1.0});
  std::vector<double> seen;
  for (int e = 0; e < 5; ++e) {
    sched.step();
    seen.push_back(sched.get_last_lr()[0]);
  }
  CHECK(seen == std::vector<double>{1.0, 0.5, 0.5, 0.25, 0.25});
  CHECK(opt.param_groups()[0].lr() == 0.25);
  CHECK(*opt.param_groups()[0].initial_lr == 1.0);
}

TEST_CASE("the Transformer's inverse-square-root warm-up is one LambdaLR line", "[optim]") {
  const Tensor w = tg::tensor({1.0}, kFloat64).requires_grad_();
  const double d_model = 512, warmup = 4000;
  Adam opt({w}, AdamOptions(std::pow(d_model, -0.5)).betas(0.9, 0.98).eps(1e-9));
  LambdaLR sched(opt, [&](std::int64_t e) {
    const double s = static_cast<double>(e + 1);
    return std::min(1 / std::sqrt(s), s * std::pow(warmup, -1.5));
  });
  double peak = 0;
  std::int64_t peak_at = 0;
  for (std::int64_t e = 1; e < 8000; ++e) {
    sched.step();
    if (sched.get_last_lr()[0] > peak) {
      peak = sched.get_last_lr()[0];
      peak_at = e;
    }
  }
  CHECK(peak_at == warmup - 1);  // epoch e is step e + 1
  CHECK(peak == Approx(std::pow(d_model, -0.5) * std::pow(warmup, -0.5)));
}

TEST_CASE("OneCycleLR stops at total_steps with an error naming the count", "[optim]") {
  const Tensor w = tg::tensor({1.0}, kFloat64).requires_grad_();
  SGD opt({w}, SGDOptions(0.1).momentum(0.9));
  OneCycleLR sched(opt, OneCycleLROptions(1.0, 5));
  for (int i = 0; i < 4; ++i) sched.step();
  CHECK(sched.get_last_lr()[0] == Approx(1.0 / 25 / 1e4));  // the minimum, at step total_steps - 1
  sched.step();                                             // one more is allowed, as in PyTorch
  CHECK_THROWS_WITH(sched.step(), Catch::Contains("OneCycleLR") && Catch::Contains("tried to step 7 times") &&
                                      Catch::Contains("total_steps is 5"));
}

TEST_CASE("ReduceLROnPlateau waits patience epochs, reduces, cools down, and saves its counters", "[optim]") {
  const Tensor w = tg::tensor({1.0}, kFloat64).requires_grad_();
  SGD opt({w}, 1.0);
  ReduceLROnPlateau plateau(opt, ReduceLROnPlateauOptions().patience(2).cooldown(1).factor(0.5).min_lr(0.2));
  std::vector<double> lrs;
  for (double metric : {1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9}) {
    plateau.step(metric);
    lrs.push_back(plateau.get_last_lr()[0]);
  }
  CHECK(lrs == std::vector<double>{1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25});
  const SchedulerState s = plateau.state_dict();
  ReduceLROnPlateau other(opt);
  other.load_state_dict(s);
  CHECK(other.best() == 0.9);
  CHECK(other.num_bad_epochs() == plateau.num_bad_epochs());
  CHECK(other.cooldown_counter() == plateau.cooldown_counter());
  CHECK(other.last_epoch() == 12);
}

// ---- clipping ----------------------------------------------------------------------------------

TEST_CASE("clip_grad_norm_ on a non-finite norm scales, errors or skips as asked", "[optim]") {
  auto param = [] {
    const Tensor p = tg::tensor({1.0, 2.0}, kFloat64).requires_grad_();
    p.set_grad(tg::tensor({3.0, INFINITY}, kFloat64));
    return p;
  };
  const Tensor a = param();
  CHECK(std::isinf(clip_grad_norm_({a}, 1.0)));
  CHECK(a.grad().to_vector<double>()[0] == 0.0);  // scaled by max_norm / inf = 0, as PyTorch
  CHECK(std::isnan(a.grad().to_vector<double>()[1]));

  const Tensor b = param();
  CHECK_THROWS_WITH(clip_grad_norm_({b}, 1.0, 2.0, NonFinite::kError),
                    Catch::Contains("clip_grad_norm_") && Catch::Contains("non-finite") && Catch::Contains("inf"));
  CHECK(b.grad().to_vector<double>() == std::vector<double>{3.0, INFINITY});

  const Tensor c = param();
  CHECK(std::isinf(clip_grad_norm_({c}, 1.0, 2.0, NonFinite::kSkip)));
  CHECK(c.grad().to_vector<double>() == std::vector<double>{3.0, INFINITY});

  const Tensor none = tg::tensor({1.0}, kFloat64).requires_grad_();
  CHECK(clip_grad_norm_({none}, 1.0) == 0.0);
}

TEST_CASE("clip_grad_norm_ returns the total norm of float32 gradients in float64", "[optim]") {
  const Tensor p = tg::zeros({3}).requires_grad_();
  p.set_grad(tg::tensor({3.0f, 4.0f, 0.0f}));
  CHECK(clip_grad_norm_({p}, 1.0) == 5.0);
  CHECK(p.grad().to_vector<float>()[0] == Approx(0.6f));
  CHECK(p.grad().to_vector<float>()[1] == Approx(0.8f));
}
