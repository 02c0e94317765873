"""Any OpenAI-compatible server as the policy: vLLM, Ollama, LM Studio, llama.cpp's server, `transformers serve`,
or a hosted API.

    OPENAI_BASE_URL=http://127.0.0.1:8000/v1 python -m dppgrpo_core.expand "a red car" --policy openai:Qwen/Qwen2.5-7B-Instruct

The server and its key come from the server's own settings (`OPENAI_BASE_URL`, `OPENAI_API_KEY`: the openai
client's conventions), never from a browser. Every call has a timeout and a bounded number of retries; a server
that is down, slow or answers garbage is one line (`ModelUnavailable`). Servers that ignore `n` (transformers
serve) get the missing completions as further requests, sent together.
"""

from __future__ import annotations

import concurrent.futures
import logging
from dataclasses import dataclass, field

from dppgrpo_core.errors import ModelUnavailable
from dppgrpo_core.models.policy import Policy
from dppgrpo_core.settings import Settings

TIMEOUT_S = 60.0  # per request; a policy reply is ~100 tokens
RETRIES = 2  # the openai client's own retries (connection errors, 408/429/5xx), with backoff
PARALLEL = 8  # requests in flight for one call (a server batches them: vLLM, transformers serve)
WHERE = "the OpenAI-compatible policy server (OPENAI_BASE_URL)"


@dataclass(kw_only=True)
class OpenAIPolicy(Policy):
    """MODEL on the server of the settings; `generate_raw` has the interface of the local engines."""

    client: object
    model: str
    engine: str = "openai"
    # Parameter names some servers refuse (OpenAI's reasoning models: max_tokens, temperature), learnt once.
    refused: set = field(default_factory=set)

    @classmethod
    def from_settings(cls, model: str, settings: Settings) -> "OpenAIPolicy":
        try:
            import openai
        except ImportError as exc:
            raise ModelUnavailable("An openai: policy needs `pip install openai`.") from exc
        if not model.strip():
            raise ModelUnavailable("Name the server's model: --policy openai:MODEL.")
        if not settings.openai_base_url and not settings.openai_api_key:
            raise ModelUnavailable(f"--policy openai:{model} needs OPENAI_BASE_URL (a local server such as vLLM or "
                                   "Ollama) or OPENAI_API_KEY (the OpenAI API).")
        client = openai.OpenAI(base_url=settings.openai_base_url or None,
                               api_key=settings.openai_api_key or "not-needed",  # local servers take any key
                               timeout=TIMEOUT_S, max_retries=RETRIES)
        return cls(client=client, model=model, name=f"openai:{model}")

    def generate_raw(self, messages_batch: list[list[dict]], num_return_sequences: int = 1,
                     temperature: float = 0.8, seed: int | None = None, **overrides) -> list[str]:
        options = dict(self.gen_defaults, **overrides)
        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            jobs = [pool.submit(self._completions, m, num_return_sequences, temperature, seed, options)
                    for m in messages_batch]
            return [text for job in jobs for text in job.result()]

    def _completions(self, messages: list[dict], n: int, temperature: float, seed: int | None,
                     options: dict) -> list[str]:
        """n completions of one conversation: one request asking for n, then one request per missing one."""
        texts = self._request(messages, n, temperature, seed, options)
        if len(texts) < n:
            with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
                more = pool.map(lambda i: self._request(messages, 1, temperature, None if seed is None else seed + i,
                                                        options)[0], range(len(texts), n))
                texts += list(more)
        return texts[:n]

    def _request(self, messages: list[dict], n: int, temperature: float, seed: int | None, options: dict) -> list[str]:
        import openai

        params = {"model": self.model, "messages": messages, "n": n, "max_tokens": options["max_new_tokens"],
                  "temperature": temperature, "top_p": options.get("top_p") if temperature > 0 else None,
                  "seed": seed}
        for _ in range(3):  # at most: max_tokens renamed, temperature dropped
            body = {k: v for k, v in params.items() if v is not None and k not in self.refused}
            try:
                reply = self.client.chat.completions.create(**body)
                break
            except openai.BadRequestError as exc:
                refused = next((k for k in ("max_tokens", "temperature", "top_p", "seed")
                                if k in str(exc) and k in body), None)
                if refused is None:
                    raise self._failure(exc) from None
                self.refused.add(refused)
                if refused == "max_tokens":
                    params["max_completion_tokens"] = params["max_tokens"]
            except (openai.OpenAIError, ValueError) as exc:
                raise self._failure(exc) from None
        else:
            raise ModelUnavailable(f"{WHERE} refused every form of the request for {self.model!r}.")
        choices = getattr(reply, "choices", None) or []
        texts = [c.message.content for c in choices if getattr(getattr(c, "message", None), "content", None)]
        if not texts or not all(isinstance(t, str) for t in texts):
            raise ModelUnavailable(f"{WHERE} answered with no text for {self.model!r}; check the model name and "
                                   "that it is a chat model.")
        return texts

    def _failure(self, exc: Exception) -> ModelUnavailable:
        import openai

        logging.getLogger(__name__).error("policy server request failed: %r", exc)
        if isinstance(exc, openai.APITimeoutError):
            return ModelUnavailable(f"{WHERE} did not answer within {TIMEOUT_S:.0f} s ({RETRIES + 1} tries).")
        if isinstance(exc, openai.APIConnectionError):
            return ModelUnavailable(f"Cannot reach {WHERE}: start it or check the address ({RETRIES + 1} tries).")
        if isinstance(exc, openai.APIStatusError):
            return ModelUnavailable(f"{WHERE} answered HTTP {exc.status_code} for model {self.model!r}"
                                    f"{' (check OPENAI_API_KEY)' if exc.status_code in (401, 403) else ''}.")
        return ModelUnavailable(f"{WHERE} sent a reply that is not an OpenAI chat completion ({type(exc).__name__}).")
