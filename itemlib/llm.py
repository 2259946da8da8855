"""One client for OpenAI-compatible chat endpoints, used by the query writers and the Chat-Rec ranker.

Configure it with arguments or ``ITEMLIB_LLM_URL``, ``ITEMLIB_LLM_MODEL`` and ``ITEMLIB_LLM_API_KEY``
(``OPENAI_API_KEY`` also works). Any server speaking ``/chat/completions`` will do: vLLM, llama.cpp's
server, Ollama, a hosted API.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request


class LLMError(RuntimeError):
    """The chat endpoint could not be used; the message says which URL and why."""


class ChatClient:
    """Sends one user message to ``{url}/chat/completions`` at temperature 0 and returns the answer."""

    def __init__(
        self, url: str | None = None, model: str | None = None, api_key: str | None = None, timeout: float = 30.0
    ) -> None:
        self.url = (url or os.environ.get("ITEMLIB_LLM_URL") or "").rstrip("/")
        self.model = model or os.environ.get("ITEMLIB_LLM_MODEL") or ""
        self.api_key = api_key or os.environ.get("ITEMLIB_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
        if not self.url or not self.model:
            raise LLMError("the chat client needs a URL and a model (arguments or ITEMLIB_LLM_URL / ITEMLIB_LLM_MODEL)")
        self.timeout = timeout

    def complete(self, prompt: str) -> str:
        """The endpoint's answer to ``prompt``, white space folded; :class:`LLMError` on any failure."""
        body = json.dumps({"model": self.model, "temperature": 0, "messages": [{"role": "user", "content": prompt}]})
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(f"{self.url}/chat/completions", data=body.encode(), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.load(response)
            text = payload["choices"][0]["message"]["content"]
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise LLMError(f"chat endpoint {self.url} failed: {error}") from None
        except (KeyError, IndexError, TypeError, ValueError):
            raise LLMError(f"chat endpoint {self.url} returned no choices[0].message.content") from None
        if not isinstance(text, str) or not text.strip():
            raise LLMError(f"chat endpoint {self.url} returned an empty message")
        return " ".join(text.split())
