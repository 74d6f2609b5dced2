"""`python -m sagestack cost`: what a stack costs a month, line by line, before it is deployed.

inventory (what the program creates, from the stack config) -> estimate (pure line-item formulas
over the inventory, traffic assumptions and a price table) -> render (text, JSON, Markdown).
Prices come from the committed snapshot or the AWS Price List API (sources, pricelist).
"""
