"""``--trainer grpo``: iterations of rollouts (recorded runs) and clipped policy updates.

Output layout (docs/train.md)::

    OUTPUT_DIR/adapter/             the RL LoRA adapter + processor (hf policy `adapter`)
    OUTPUT_DIR/base/                the starting model, when it was an adapter (merged once)
    OUTPUT_DIR/checkpoints/iteration-NNNN/   adapter, optimizer, state (resume)
    OUTPUT_DIR/rollouts.db          every rollout: runs grpo-itNNNN-mK (tags: grpo, iteration)
    OUTPUT_DIR/reward_curve.json, reward_curve.png, train_config.json, metadata.json
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import time
from pathlib import Path
from typing import Any, ClassVar

from vlmforge import __version__
from vlmforge.components_build import build_component, check_settings
from vlmforge.errors import ConfigError
from vlmforge.session import describe_run, open_run, play
from vlmforge.summary import FINISHED
from vlmforge_hf.adapter import lora_config
from vlmforge_hf.config import HFPolicyConfig
from vlmforge_hf.grpo.config import GRPOConfig
from vlmforge_hf.grpo.curves import write_reward_curve
from vlmforge_hf.grpo.rewards import group_advantages, score_episode, summarise
from vlmforge_hf.grpo.update import (
    RecordedChoice,
    Sample,
    candidate_index,
    chosen_index,
    grpo_loss,
    policy_logprobs,
)
from vlmforge_hf.loader import LoadedModel, load, resolve_adapter
from vlmforge_hf.model_path import model_location
from vlmforge_hf.policy import HFPolicy, template_messages
from vlmforge_hf.rendering import render_prompt

CHECKPOINTS = "checkpoints"
KEEP_CHECKPOINTS = 2


def run_name(iteration: int, member: int) -> str:
    return f"grpo-it{iteration:04d}-m{member}"


def last_checkpoint(out_dir: Path) -> tuple[int, Path] | None:
    """(iteration, folder) of the newest complete checkpoint."""
    found = []
    for folder in (out_dir / CHECKPOINTS).glob("iteration-*"):
        if (folder / "state.json").is_file():
            found.append((int(folder.name.split("-")[1]), folder))
    return max(found) if found else None


class GRPOTrainer:
    """RL on environment reward with the ``hf`` policy's ``score`` decoding."""

    config_model: ClassVar[type[GRPOConfig]] = GRPOConfig

    def __init__(self, config: GRPOConfig):
        self.config = config
        self.out = Path(config.output_dir)
        self.policy_config = self._policy_config()
        self._choices: Any = None  # the candidate decisions (one set for the environment)
        self._choice_index: dict[tuple[str, str], int] = {}

    # -- setup -----------------------------------------------------------------------------
    def _policy_config(self) -> HFPolicyConfig:
        from vlmforge.config import validate

        cfg = self.config
        settings = {"batch_size": cfg.seeds_per_iteration * cfg.group_size, **cfg.policy}
        policy = validate(
            HFPolicyConfig, {"model": cfg.model, **settings}, "grpo [policy]", prefix=("policy",)
        )
        if policy.decoding != "score":
            raise ConfigError(
                f"grpo [policy]: decoding = '{policy.decoding}' is not supported yet; the grpo "
                "trainer learns the score decoding's exact policy (softmax over the valid "
                "decisions). Use decoding = 'score'."
            )
        if policy.top_p < 1.0:
            raise ConfigError(
                "grpo [policy]: top_p must be 1.0; the update needs the untruncated policy"
            )
        return policy

    def _load(self, device: str, dtype: str) -> tuple[LoadedModel, Any, str]:
        """(model being trained, the peft model, the starting model's folder)."""
        import torch
        from peft import PeftModel, get_peft_model

        cfg = self.config
        base_dir = self.out / "base"
        if cfg.adapter is not None and not (base_dir / "config.json").is_file():
            start = load(cfg.model, cfg.adapter, device="cpu", dtype=dtype)
            merged = start.model.merge_and_unload()  # the starting policy as plain weights
            merged.save_pretrained(base_dir)
            start.processor.save_pretrained(base_dir)
        start_path = str(base_dir) if cfg.adapter is not None else cfg.model
        base = load(start_path, None, device=device, dtype=dtype)
        found = last_checkpoint(self.out) if cfg.resume else None
        if found is not None:
            adapter = str(found[1] / "adapter")
            net = PeftModel.from_pretrained(base.model, adapter, is_trainable=True)
        else:
            net = get_peft_model(base.model, lora_config(cfg.lora))
        net.to(device)
        loaded = LoadedModel(net, base.processor, base.base, None, device, dtype)
        torch.manual_seed(cfg.seed)
        return loaded, net, base.base

    # -- the run ---------------------------------------------------------------------------
    def train(self) -> dict[str, Any]:
        import torch

        from vlmforge.plugins import get_registry
        from vlmforge_hf.loader import resolve_device_dtype

        cfg = self.config
        started = time.perf_counter()
        model_location(cfg.model)  # a mistyped folder fails now, before anything is written
        if cfg.adapter is not None:
            resolve_adapter(cfg.adapter)
        found = last_checkpoint(self.out)
        if found is not None and not cfg.resume:
            raise ConfigError(
                f"output_dir '{self.out}' holds checkpoints of an earlier run ({found[1].name}). "
                "Set resume = true to continue it, or choose another --output-dir."
            )
        device, dtype = resolve_device_dtype(cfg.device, cfg.dtype)
        registry = get_registry()
        check_settings(  # a [store] typo fails now, not after the model is loaded
            registry, "store", cfg.store.name, cfg.store_settings(), where="grpo [store]",
            prefix=("store",),
        )  # fmt: skip
        env_settings = {k: v for k, v in cfg.env.items() if k != "name"}
        env = build_component(
            registry, "environment", str(cfg.env.get("name", "crafter")), env_settings,
            where="grpo [env]", prefix=("env",),
        )  # fmt: skip
        spec = env.spec()
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "train_config.json").write_text(
            json.dumps({"trainer": "grpo", **cfg.model_dump(mode="json")}, indent=2) + "\n"
        )
        loaded, net, start_path = self._load(device, dtype)
        policy = HFPolicy(self.policy_config.model_copy(update={"model": start_path}), loaded)
        store = build_component(
            registry, "store", cfg.store.name, cfg.store_settings(), where="grpo [store]",
            prefix=("store",),
        )  # fmt: skip
        params = [p for p in net.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate)
        curve: list[dict[str, Any]] = []
        first = 0
        if found is not None:
            state = json.loads((found[1] / "state.json").read_text())
            optimizer.load_state_dict(torch.load(found[1] / "optimizer.pt", weights_only=True))
            curve, first = state["curve"], state["iteration"] + 1
        progress = _Progress(cfg.progress, cfg.iterations, first)
        slowest, out_of_time = 0.0, False
        try:
            for iteration in range(first, cfg.iterations):
                if iteration > first and cfg.time_limit_s is not None:
                    out_of_time = time.perf_counter() - started + slowest > cfg.time_limit_s
                    if out_of_time:
                        break
                began = time.perf_counter()
                entry = self._iteration(iteration, env, spec, policy, store, net, optimizer)
                curve.append(entry)
                self._checkpoint(iteration, net, loaded, optimizer, curve)
                write_reward_curve(curve, self.out)
                progress.advance(entry)
                slowest = max(slowest, time.perf_counter() - began)
        finally:
            progress.close()
            store.close()
        final = self.out / "adapter"
        net.save_pretrained(final)
        loaded.processor.save_pretrained(final)
        metadata = {
            "trainer": "grpo",
            "vlmforge_version": __version__,
            "start_model": start_path,
            "start_adapter": cfg.adapter,
            "output": str(final),
            "iterations": len(curve),
            "resumed_from_iteration": first if found is not None else None,
            "time_limit_s": cfg.time_limit_s,
            "stopped_by_time_limit": out_of_time,
            "first_reward_mean": curve[0]["reward_mean"] if curve else None,
            "final_reward_mean": curve[-1]["reward_mean"] if curve else None,
            "trainable_parameters": sum(p.numel() for p in params),
            "device": device,
            "dtype": dtype,
            "prompt_tools": policy.tools_in_prompt,
            "wall_time_s": round(time.perf_counter() - started, 3),
        }
        (self.out / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
        return {
            "output_dir": str(self.out),
            "adapter": str(final),
            "iterations": len(curve),
            "stopped_by_time_limit": out_of_time,
            "first_reward_mean": metadata["first_reward_mean"],
            "final_reward_mean": metadata["final_reward_mean"],
            "wall_time_s": metadata["wall_time_s"],
        }

    def _iteration(
        self, iteration: int, env: Any, spec: Any, policy: HFPolicy, store: Any, net: Any,
        optimizer: Any,
    ) -> dict[str, Any]:  # fmt: skip
        cfg = self.config
        seeds = cfg.iteration_seeds(iteration)
        t0 = time.perf_counter()
        net.eval()
        runs = asyncio.run(self._rollouts(iteration, seeds, env, spec, policy, store))
        t1 = time.perf_counter()
        scored, decisions = self._samples(runs, store, spec, policy)
        stats = self._update(iteration, decisions, store, spec, policy, net, optimizer)
        t2 = time.perf_counter()
        return {
            "iteration": iteration,
            "seeds": seeds,
            "runs": [r.name for r in runs],
            **summarise([e for group in scored for e in group]),
            **stats,
            "samples": len(decisions),
            "rollout_s": round(t1 - t0, 3),
            "update_s": round(t2 - t1, 3),
        }

    async def _rollouts(
        self, iteration: int, seeds: list[int], env: Any, spec: Any, policy: HFPolicy, store: Any
    ) -> list[Any]:
        cfg = self.config
        views, opened = [], []
        for member in range(cfg.group_size):
            view = policy.view(cfg.seed * 1_000_000 + iteration * 1_000 + member)
            run = describe_run(
                run_name(iteration, member), env_name=str(cfg.env.get("name", "crafter")),
                env=env, spec=spec, policy_name="hf", policy=view, seeds=seeds,
                tags=["grpo", f"iteration={iteration}", f"member={member}"],
            )  # fmt: skip
            views.append(view)
            opened.append(open_run(store, run, resume=True))
        per_run = cfg.concurrency or len(seeds)
        games = [
            play(o, env=env, spec=spec, policy=v, store=store, concurrency=per_run,
                 max_steps=cfg.max_steps)
            for o, v in zip(opened, views, strict=True)
        ]  # fmt: skip
        try:
            await asyncio.gather(*games)
        finally:
            await policy.aclose()
        return [o.run for o in opened]

    def _samples(
        self, runs: list[Any], store: Any, spec: Any, policy: HFPolicy
    ) -> tuple[list[list[Any]], list[RecordedChoice]]:
        """The scored episodes of each seed's group, and every decision that can be learned
        from (with its advantage), in a fixed order. Nothing is rendered yet: the update
        renders only the decisions it draws."""
        cfg = self.config
        by_seed: dict[int, list[tuple[Any, list[Any], int]]] = {}
        for member, run in enumerate(runs):
            for episode in store.episodes([run.id]):
                if episode.status.value in FINISHED and episode.termination != "policy_error":
                    by_seed.setdefault(episode.seed, []).append(
                        (episode, list(store.steps(episode.id)), member)
                    )
        scored_groups, decisions = [], []
        self._choices = None
        for seed in sorted(by_seed):
            group = [score_episode(e, steps, m, cfg.reward) for e, steps, m in by_seed[seed]]
            scored_groups.append(group)
            if len(group) < 2:
                continue  # a lone episode has nothing to be compared with
            advantages = group_advantages(group, cfg.credit, cfg.gamma, cfg.baseline)
            for (_, steps, _), advs in zip(by_seed[seed], advantages, strict=True):
                decisions.extend(self._learnable(steps, advs, store, spec, policy))
        return scored_groups, decisions

    def _learnable(
        self, steps: list[Any], advantages: list[float], store: Any, spec: Any, policy: HFPolicy
    ) -> list[RecordedChoice]:
        """The decisions of one episode that executed one of the candidates."""
        out = []
        for step, advantage in zip(steps, advantages, strict=True):
            call = step.lm_call
            if call is None or call.decision_logprob is None:
                continue
            if self._choices is None:  # the same candidates for every prompt (checked by hf)
                messages, _ = template_messages(step.prompt, store.image)
                self._choices = policy.decode_data(spec, messages)
                self._choice_index = candidate_index(self._choices)
            index = chosen_index(step, self._choice_index)
            if index is not None:
                out.append(RecordedChoice(step, index, call.decision_logprob, advantage))
        return out

    def _render(
        self, decisions: list[RecordedChoice], store: Any, spec: Any, policy: HFPolicy
    ) -> list[Sample]:
        """Decisions -> samples: the prompt as the chat template rendered it, and its images."""
        tools = policy.prompt_tools(spec)
        out = []
        for d in decisions:
            messages, images = template_messages(d.step.prompt, store.image)
            text = render_prompt(policy.loaded.processor, messages, tools)
            out.append(Sample(text, images, d.index, d.old_logprob, d.advantage))
        return out

    def _update(
        self, iteration: int, decisions: list[RecordedChoice], store: Any, spec: Any,
        policy: HFPolicy, net: Any, optimizer: Any,
    ) -> dict[str, Any]:  # fmt: skip
        import torch

        cfg = self.config
        stats: dict[str, Any] = {"loss": None, "kl": None, "kl_first": None, "clipped": None,
                                 "ratio_first": None, "approx_kl_old": None,
                                 "optimizer_steps": 0, "samples_learned": 0}  # fmt: skip
        if not decisions:
            return stats
        choices = self._choices
        temperature = policy.config.temperature
        rng = random.Random(f"grpo:{cfg.seed}:{iteration}")
        net.train()
        losses: list[float] = []
        kls: list[float] = []
        clipped: list[float] = []
        drift: list[float] = []
        if cfg.samples_per_iteration is not None and len(decisions) > cfg.samples_per_iteration:
            decisions = rng.sample(decisions, cfg.samples_per_iteration)  # drawn, then rendered
        samples = self._render(decisions, store, spec, policy)
        for _ in range(cfg.epochs):
            order = list(range(len(samples)))
            rng.shuffle(order)
            for start in range(0, len(order), cfg.batch_size):
                batch = [samples[i] for i in order[start : start + cfg.batch_size]]
                logp = policy_logprobs(policy.loaded, batch, choices, temperature)
                ref = None
                if cfg.kl_coef > 0:
                    with torch.no_grad(), net.disable_adapter():
                        ref = policy_logprobs(policy.loaded, batch, choices, temperature)
                parts = grpo_loss(logp, ref, batch, clip=cfg.clip, kl_coef=cfg.kl_coef)
                optimizer.zero_grad()
                parts.loss.backward()
                torch.nn.utils.clip_grad_norm_(
                    [p for p in net.parameters() if p.requires_grad], cfg.max_grad_norm
                )
                optimizer.step()
                if stats["kl_first"] is None:
                    stats["kl_first"], stats["ratio_first"] = parts.kl, parts.ratio
                losses.append(float(parts.loss.detach()))
                if parts.kl is not None:
                    kls.append(parts.kl)
                clipped.append(parts.clipped)
                drift.append(parts.approx_kl_old)
                stats["optimizer_steps"] += 1
                stats["samples_learned"] += len(batch)
        net.eval()
        stats.update(
            loss=sum(losses) / len(losses),
            kl=sum(kls) / len(kls) if kls else None,
            clipped=sum(clipped) / len(clipped),
            approx_kl_old=sum(drift) / len(drift),
        )
        return stats

    def _checkpoint(
        self, iteration: int, net: Any, loaded: LoadedModel, optimizer: Any, curve: list[Any]
    ) -> None:
        import torch

        folder = self.out / CHECKPOINTS / f"iteration-{iteration:04d}"
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        net.save_pretrained(partial / "adapter")
        torch.save(optimizer.state_dict(), partial / "optimizer.pt")
        (partial / "state.json").write_text(
            json.dumps({"iteration": iteration, "curve": curve}, indent=2) + "\n"
        )
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)  # a checkpoint is complete or absent
        kept = sorted((self.out / CHECKPOINTS).glob("iteration-[0-9][0-9][0-9][0-9]"))
        for old in kept[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(old)


class _Progress:
    """A rich progress bar over iterations with the last mean reward (stderr)."""

    def __init__(self, enabled: bool, total: int, done: int):
        self.bar: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.bar = Progress(
            TextColumn("grpo"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), console=Console(stderr=True),
        )  # fmt: skip
        self.task = self.bar.add_task("grpo", total=total, completed=done, info="")
        self.bar.start()

    def advance(self, entry: dict[str, Any]) -> None:
        if self.bar is None:
            return
        kl = entry.get("kl")
        info = f"reward {entry['reward_mean']:.2f}" + (f"  kl {kl:.4f}" if kl is not None else "")
        self.bar.update(self.task, advance=1, info=info)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
