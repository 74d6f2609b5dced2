"""A tiny Price List endpoint on 127.0.0.1 that botocore talks to over real HTTP.

moto (5.x) implements no `pricing` service, so this stands in for AWS: it speaks the JSON 1.1
protocol of botocore's pricing model (POST /, X-Amz-Target AWSPriceListService.GetProducts),
applies the request's TERM_MATCH filters to the recorded products (case-insensitive, as AWS
documents TERM_MATCH), pages one product per answer with NextToken, and answers each product
as a JSON string. What it does not do that AWS does: check signatures and permissions.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).with_name("data") / "get_products.json"
TARGET = "AWSPriceListService.GetProducts"


@dataclass
class PricingEndpoint:
    url: str
    products: list[dict[str, Any]]
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Set to make every answer an error of this AWS type (e.g. AccessDeniedException).
    fail_with: str = ""


def _matches(product: dict[str, Any], service: str, filters: list[dict[str, str]]) -> bool:
    if product["serviceCode"] != service:
        return False
    attributes = {
        **product["product"]["attributes"],
        "productFamily": product["product"]["productFamily"],
    }
    return all(
        str(attributes.get(f["Field"], "")).lower() == f["Value"].lower()
        for f in filters
        if f["Type"] == "TERM_MATCH"
    )


@contextmanager
def pricing_endpoint(products: list[dict[str, Any]] | None = None) -> Iterator[PricingEndpoint]:
    if products is None:
        products = json.loads(RECORDED.read_text())["products"]
    state = PricingEndpoint(url="", products=products)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            target = self.headers.get("X-Amz-Target")
            state.requests.append({"target": target, "body": body})
            if state.fail_with:
                self._answer(400, {"__type": state.fail_with, "Message": "refused by the test"})
                return
            if target != TARGET:
                self._answer(400, {"__type": "InvalidParameterException", "Message": target})
                return
            found = [
                p
                for p in state.products
                if _matches(p, body["ServiceCode"], body.get("Filters", []))
            ]
            start = int(body.get("NextToken") or 0)
            answer: dict[str, Any] = {
                "FormatVersion": "aws_v1",
                "PriceList": [json.dumps(p) for p in found[start : start + 1]],
            }
            if start + 1 < len(found):
                answer["NextToken"] = str(start + 1)
            self._answer(200, answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
