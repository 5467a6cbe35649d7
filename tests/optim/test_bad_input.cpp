// Bad inputs to optim: every validated hyperparameter of the optimizers, schedulers and clipping
// raises tg::Error when the optimizer (or scheduler) is made, with a message that names the
// class, the option and the bad value; so do bad parameter lists and mismatched state dicts.
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "support/helpers.h"
#include "tapegrad/tapegrad.h"

using tg_test::error_of;

using namespace tg;
using namespace tg::optim;
using Catch::Matchers::Contains;

namespace {

std::vector<Tensor> one_param() { return {tg::tensor({1.0, 2.0}, kFloat64).requires_grad_()}; }

}  // namespace

TEST_CASE("SGD rejects a negative or non-finite lr, momentum or weight decay, and nesterov without momentum",
          "[optim]") {
  CHECK_THROWS_AS(SGD(one_param(), -0.1), Error);
  CHECK_THAT(error_of([] { SGD(one_param(), -0.1); }), Contains("SGD") && Contains("learning rate -0.1"));
  CHECK_THAT(error_of([] { SGD(one_param(), NAN); }), Contains("SGD") && Contains("learning rate nan"));
  CHECK_THAT(error_of([] { SGD(one_param(), SGDOptions(0.1).momentum(-0.5)); }),
             Contains("SGD") && Contains("momentum -0.5"));
  CHECK_THAT(error_of([] { SGD(one_param(), SGDOptions(0.1).weight_decay(-1)); }),
             Contains("SGD") && Contains("weight_decay -1"));
  CHECK_THAT(error_of([] { SGD(one_param(), SGDOptions(0.1).dampening(INFINITY)); }),
             Contains("SGD") && Contains("dampening inf"));
  CHECK_THAT(error_of([] { SGD(one_param(), SGDOptions(0.1).nesterov(true)); }),
             Contains("SGD") && Contains("nesterov") && Contains("momentum 0"));
  CHECK_THAT(error_of([] { SGD(one_param(), SGDOptions(0.1).nesterov(true).momentum(0.9).dampening(0.1)); }),
             Contains("nesterov") && Contains("dampening 0.1"));
}

TEST_CASE("Adam and AdamW reject betas outside (0, 1) and a negative lr, eps or weight decay", "[optim]") {
  CHECK_THAT(error_of([] { Adam(one_param(), AdamOptions(-1e-3)); }),
             Contains("Adam") && Contains("learning rate -0.001"));
  CHECK_THAT(error_of([] { Adam(one_param(), AdamOptions().betas(1.0, 0.999)); }),
             Contains("Adam") && Contains("beta1 1") && Contains("[0, 1)"));
  CHECK_THAT(error_of([] { Adam(one_param(), AdamOptions().betas(-0.1, 0.999)); }), Contains("beta1 -0.1"));
  CHECK_THAT(error_of([] { Adam(one_param(), AdamOptions().betas(0.9, 1.5)); }), Contains("beta2 1.5"));
  CHECK_THAT(error_of([] { Adam(one_param(), AdamOptions().eps(-1e-8)); }), Contains("Adam") && Contains("eps -1e-08"));
  CHECK_THAT(error_of([] { Adam(one_param(), AdamOptions().weight_decay(-0.1)); }), Contains("weight_decay -0.1"));
  CHECK_THAT(error_of([] { AdamW(one_param(), AdamWOptions(-1)); }), Contains("AdamW") && Contains("learning rate -1"));
  CHECK_THAT(error_of([] { AdamW(one_param(), AdamWOptions().betas(0.9, 1.0)); }),
             Contains("AdamW") && Contains("beta2 1"));
  CHECK_THAT(error_of([] { AdamW(one_param(), AdamWOptions().eps(-1)); }), Contains("AdamW") && Contains("eps -1"));
  CHECK_THAT(error_of([] { AdamW(one_param(), AdamWOptions().weight_decay(-0.01)); }),
             Contains("AdamW") && Contains("weight_decay -0.01"));
}

TEST_CASE("RMSprop and Adagrad reject each bad hyperparameter by name and value", "[optim]") {
  CHECK_THAT(error_of([] { RMSprop(one_param(), RMSpropOptions(-0.01)); }),
             Contains("RMSprop") && Contains("learning rate -0.01"));
  CHECK_THAT(error_of([] { RMSprop(one_param(), RMSpropOptions().alpha(1.5)); }),
             Contains("RMSprop") && Contains("alpha 1.5") && Contains("[0, 1]"));
  CHECK_THAT(error_of([] { RMSprop(one_param(), RMSpropOptions().alpha(-0.1)); }), Contains("alpha -0.1"));
  CHECK_THAT(error_of([] { RMSprop(one_param(), RMSpropOptions().eps(-1)); }),
             Contains("RMSprop") && Contains("eps -1"));
  CHECK_THAT(error_of([] { RMSprop(one_param(), RMSpropOptions().momentum(-0.9)); }), Contains("momentum -0.9"));
  CHECK_THAT(error_of([] { RMSprop(one_param(), RMSpropOptions().weight_decay(-2)); }), Contains("weight_decay -2"));

  CHECK_THAT(error_of([] { Adagrad(one_param(), AdagradOptions(-0.5)); }),
             Contains("Adagrad") && Contains("learning rate -0.5"));
  CHECK_THAT(error_of([] { Adagrad(one_param(), AdagradOptions().lr_decay(-0.1)); }), Contains("lr_decay -0.1"));
  CHECK_THAT(error_of([] { Adagrad(one_param(), AdagradOptions().weight_decay(-0.1)); }),
             Contains("Adagrad") && Contains("weight_decay -0.1"));
  CHECK_THAT(error_of([] { Adagrad(one_param(), AdagradOptions().initial_accumulator_value(-1)); }),
             Contains("initial_accumulator_value -1"));
  CHECK_THAT(error_of([] { Adagrad(one_param(), AdagradOptions().eps(-1e-10)); }), Contains("eps -1e-10"));
}

TEST_CASE("an optimizer rejects empty, non-leaf, integer and repeated parameters", "[optim]") {
  CHECK_THAT(error_of([] { SGD(std::vector<Tensor>{}, 0.1); }), Contains("SGD") && Contains("empty parameter list"));
  const Tensor leaf = tg::tensor({1.0, 2.0}, kFloat64).requires_grad_();
  const Tensor computed = leaf * 2.0;
  CHECK_THAT(error_of([&] { Adam({computed}); }), Contains("Adam") && Contains("not a leaf"));
  CHECK_THAT(error_of([] { SGD({tg::arange(3)}, 0.1); }), Contains("SGD") && Contains("int64"));
  CHECK_THAT(error_of([&] { SGD({leaf, leaf}, 0.1); }), Contains("SGD") && Contains("more than once"));
  SGD opt({leaf}, 0.1);
  CHECK_THAT(error_of([&] { opt.add_param_group(ParamGroup({leaf})); }), Contains("more than once") && Contains("[2]"));
  const Tensor other = tg::tensor({1.0}, kFloat64).requires_grad_();
  CHECK_THAT(error_of([&] { opt.add_param_group(ParamGroup({other}, AdamOptions())); }),
             Contains("SGD") && Contains("AdamOptions") && Contains("SGDOptions"));
  CHECK_THAT(error_of([&] { opt.add_param_group(ParamGroup({other}, SGDOptions(-1))); }), Contains("learning rate -1"));
  CHECK(opt.param_groups().size() == 1);  // nothing was added
}

TEST_CASE("options changed through param_groups are validated at the next step", "[optim]") {
  const auto params = one_param();
  SGD opt(params, 0.1);
  opt.param_groups()[0].options_as<SGDOptions>().momentum(-1);
  CHECK_THAT(error_of([&] { opt.step(); }), Contains("SGD") && Contains("momentum -1"));
  CHECK_THAT(error_of([&] { opt.param_groups()[0].options_as<AdamOptions>(); }),
             Contains("SGDOptions") && Contains("not the requested type"));
}

TEST_CASE("options by name reject unknown names, missing names and non-flag values", "[optim]") {
  SGDOptions o(0.1);
  CHECK_THAT(error_of([&] { o.get("beta1"); }), Contains("SGDOptions") && Contains("no option named 'beta1'"));
  CHECK_THAT(error_of([&] { o.set("betas", 0.5); }), Contains("no option named 'betas'"));
  auto values = o.to_map();
  values["nesterov"] = 0.5;
  CHECK_THAT(error_of([&] { o.from_map(values); }), Contains("'nesterov' is a flag") && Contains("0.5"));
  values["nesterov"] = 0;
  values["bogus"] = 1;
  CHECK_THAT(error_of([&] { o.from_map(values); }), Contains("unknown option 'bogus'"));
  values.erase("bogus");
  values.erase("lr");
  CHECK_THAT(error_of([&] { o.from_map(values); }), Contains("missing option 'lr'"));
  CHECK(o.lr() == 0.1);
}

TEST_CASE("load_state_dict rejects another optimizer's state, other group sizes and shapes", "[optim]") {
  const Tensor a = tg::tensor({1.0, 2.0}, kFloat64).requires_grad_();
  const Tensor b = tg::tensor({3.0}, kFloat64).requires_grad_();
  Adam adam({a, b});
  (a * a).sum().backward();
  adam.step();
  const OptimizerState s = adam.state_dict();

  SGD sgd({a, b}, 0.1);
  CHECK_THAT(error_of([&] { sgd.load_state_dict(s); }), Contains("SGD.load_state_dict") && Contains("Adam"));
  Adam two_groups(std::vector<ParamGroup>{ParamGroup({a}), ParamGroup({b})}, AdamOptions());
  CHECK_THAT(error_of([&] { two_groups.load_state_dict(s); }),
             Contains("2 param groups") || Contains("1 param groups"));
  Adam fewer({a});
  CHECK_THAT(error_of([&] { fewer.load_state_dict(s); }), Contains("2 parameters in the state, 1"));
  const Tensor c = tg::tensor({1.0, 2.0, 3.0}, kFloat64).requires_grad_();
  Adam swapped({c, b}, AdamOptions(0.5));
  CHECK_THAT(error_of([&] { swapped.load_state_dict(s); }), Contains("exp_avg") && Contains("[2]") && Contains("[3]"));
  CHECK(swapped.param_groups()[0].lr() == 0.5);  // unchanged after the error
  CHECK(swapped.state(0).empty());

  OptimizerState bad_option = s;
  bad_option.groups[0].options["beta1"] = 2.0;
  CHECK_THAT(error_of([&] { adam.load_state_dict(bad_option); }), Contains("beta1 2"));
}

TEST_CASE("schedulers reject bad arguments by name and value", "[optim]") {
  const auto params = one_param();
  SGD opt(params, SGDOptions(0.1).momentum(0.9));
  CHECK_THAT(error_of([&] { StepLR(opt, 0); }), Contains("StepLR") && Contains("step_size 0"));
  CHECK_THAT(error_of([&] { StepLR(opt, 3, -0.1); }), Contains("StepLR") && Contains("gamma -0.1"));
  CHECK_THAT(error_of([&] { MultiStepLR(opt, {3, -2}); }), Contains("MultiStepLR") && Contains("milestone -2"));
  CHECK_THAT(error_of([&] { MultiStepLR(opt, {3}, NAN); }), Contains("MultiStepLR") && Contains("gamma nan"));
  CHECK_THAT(error_of([&] { ExponentialLR(opt, -0.9); }), Contains("ExponentialLR") && Contains("gamma -0.9"));
  CHECK_THAT(error_of([&] { CosineAnnealingLR(opt, 0); }), Contains("CosineAnnealingLR") && Contains("T_max 0"));
  CHECK_THAT(error_of([&] { CosineAnnealingLR(opt, 10, INFINITY); }), Contains("eta_min inf"));
  CHECK_THAT(error_of([&] { LinearLR(opt, 0.0); }), Contains("LinearLR") && Contains("start_factor 0"));
  CHECK_THAT(error_of([&] { LinearLR(opt, 1.5); }), Contains("start_factor 1.5"));
  CHECK_THAT(error_of([&] { LinearLR(opt, 0.5, 1.2); }), Contains("end_factor 1.2"));
  CHECK_THAT(error_of([&] { LinearLR(opt, 0.5, 1.0, 0); }), Contains("total_iters 0"));
  CHECK_THAT(error_of([&] { LambdaLR(opt, std::vector<LambdaLR::Lambda>{}); }),
             Contains("LambdaLR") && Contains("expected 1 lr_lambdas") && Contains("got 0"));
  CHECK_THAT(error_of([&] { OneCycleLR(opt, OneCycleLROptions(1.0, 0)); }),
             Contains("OneCycleLR") && Contains("total_steps 0"));
  CHECK_THAT(error_of([&] { OneCycleLR(opt, OneCycleLROptions(1.0, 10).pct_start(1.5)); }), Contains("pct_start 1.5"));
  CHECK_THAT(error_of([&] {
               OneCycleLR(opt, OneCycleLROptions(1.0, 10).max_lrs({1.0, 2.0, 3.0}));
             }),
             Contains("expected 1 max_lr") && Contains("got 3"));
  CHECK_THAT(error_of([&] { OneCycleLR(opt, OneCycleLROptions(-1.0, 10)); }), Contains("max_lr -1"));
  CHECK_THAT(error_of([&] { OneCycleLR(opt, OneCycleLROptions(1.0, 10).div_factor(0)); }), Contains("div_factor 0"));
  CHECK_THAT(error_of([&] { OneCycleLR(opt, OneCycleLROptions(1.0, 10).final_div_factor(-1)); }),
             Contains("final_div_factor -1"));
  Adagrad adagrad(one_param());
  CHECK_THAT(error_of([&] { OneCycleLR(adagrad, OneCycleLROptions(1.0, 10)); }),
             Contains("cycle_momentum") && Contains("Adagrad"));

  auto a = std::make_shared<StepLR>(opt, 2);
  auto b = std::make_shared<ExponentialLR>(opt, 0.9);
  CHECK_THAT(error_of([&] {
               SequentialLR(opt, {a, b}, {});
             }),
             Contains("SequentialLR") && Contains("2 schedulers and 0 milestones"));
  CHECK_THAT(error_of([&] { SequentialLR(opt, {a, b, a}, {5, 3}); }), Contains("increasing") && Contains("3 after 5"));
  SGD other(one_param(), 0.1);
  auto c = std::make_shared<StepLR>(other, 2);
  CHECK_THAT(error_of([&] {
               SequentialLR(opt, {a, c}, {3});
             }),
             Contains("scheduler 1") && Contains("another optimizer"));

  using P = ReduceLROnPlateauOptions;
  CHECK_THAT(error_of([&] { ReduceLROnPlateau(opt, P().factor(1.0)); }),
             Contains("ReduceLROnPlateau") && Contains("factor 1"));
  CHECK_THAT(error_of([&] { ReduceLROnPlateau(opt, P().patience(-1)); }), Contains("patience -1"));
  CHECK_THAT(error_of([&] { ReduceLROnPlateau(opt, P().cooldown(-2)); }), Contains("cooldown -2"));
  CHECK_THAT(error_of([&] { ReduceLROnPlateau(opt, P().threshold(-0.1)); }), Contains("threshold -0.1"));
  CHECK_THAT(error_of([&] { ReduceLROnPlateau(opt, P().eps(-1)); }), Contains("eps -1"));
  CHECK_THAT(error_of([&] { ReduceLROnPlateau(opt, P().min_lr(-0.5)); }), Contains("min_lr -0.5"));
  CHECK_THAT(error_of([&] {
               ReduceLROnPlateau(opt, P().min_lrs({0.1, 0.2}));
             }),
             Contains("expected 1 min_lr") && Contains("got 2"));
}

TEST_CASE("a scheduler's load_state_dict names a missing or mis-sized entry", "[optim]") {
  const auto params = one_param();
  SGD opt(params, 0.1);
  StepLR sched(opt, 2);
  SchedulerState s = sched.state_dict();
  s.values["base_lrs"] = {0.1, 0.2};
  CHECK_THAT(error_of([&] { sched.load_state_dict(s); }),
             Contains("StepLR") && Contains("'base_lrs'") && Contains("2 values, expected 1"));
  s.values.erase("last_epoch");
  CHECK_THAT(error_of([&] { sched.load_state_dict(s); }), Contains("no entry 'last_epoch'"));
}

TEST_CASE("clipping rejects a negative max_norm or clip_value and a norm_type that is not positive", "[optim]") {
  const auto params = one_param();
  params[0].set_grad(tg::tensor({3.0, 4.0}, kFloat64));
  CHECK_THAT(error_of([&] { clip_grad_norm_(params, -1.0); }), Contains("clip_grad_norm_") && Contains("max_norm -1"));
  CHECK_THAT(error_of([&] { clip_grad_norm_(params, 1.0, 0.0); }), Contains("norm_type 0"));
  CHECK_THAT(error_of([&] { clip_grad_norm_(params, 1.0, -2.0); }), Contains("norm_type -2"));
  CHECK_THAT(error_of([&] { clip_grad_value_(params, -0.5); }),
             Contains("clip_grad_value_") && Contains("clip_value -0.5"));
  CHECK_THAT(error_of([&] { clip_grad_norm_({Tensor()}, 1.0); }), Contains("parameter 0 is an undefined tensor"));
  CHECK(params[0].grad().to_vector<double>() == std::vector<double>{3.0, 4.0});
}
