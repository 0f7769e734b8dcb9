"""GitHub's GraphQL contract: a query must validate against GitHub's schema, variables included."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, parse, validate
from graphql.execution.values import get_variable_values

from tests.standins.graphql import schema


def check_graphql(payload: Any) -> list[str]:
    """Every problem GitHub would report for this request body ([] if none)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return ["GraphQL wants a JSON object with a string 'query'"]
    unknown = sorted(set(payload) - {"query", "variables", "operationName"})
    if unknown:
        return [f"GraphQL request keys {unknown} are not GraphQL's"]
    try:
        document = parse(payload["query"])
    except GraphQLError as err:
        return [f"GraphQL syntax: {err.message}"]
    problems = [f"GraphQL: {e.message}" for e in validate(schema(), document)]
    if problems:
        return problems
    variables = payload.get("variables") or {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            coerced = get_variable_values(
                schema(), definition.variable_definitions or [], variables
            )
            if isinstance(coerced, list):
                problems += [f"GraphQL variables: {e.message}" for e in coerced]
            declared = {v.variable.name.value for v in definition.variable_definitions or []}
            extra = sorted(set(variables) - declared)
            if extra:
                problems.append(f"GraphQL variables {extra} are not declared")
    return problems
