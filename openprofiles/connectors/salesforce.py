"""Salesforce as a flow source, through its REST API (`/services/data/vNN.N/`) and Bulk API 2.0.

The connector profile is AppFlow's: `instanceUrl` (the org's My Domain URL) and OAuth2 credentials
(`accessToken`, `refreshToken`, `oAuth2GrantType`, `clientCredentialsArn`, `jwtToken`). A 401 gets a
new access token from `{instanceUrl}/services/oauth2/token` once (refresh_token, client_credentials or
JWT bearer grant) and the request is repeated; the connected app's client id and secret come from the
AWS Secrets Manager secret `clientCredentialsArn` names (keys `clientId` and `clientSecret`), fetched
only when the operator mapped it to the profile's account or through the account's role (aws_access).

Entities are the queryable sObjects; extraction is one SOQL query ordered by the modified field and
Id, read batch by batch through `nextRecordsUrl` (`/queryAll` when includeDeletedRecords), with the
flow's window and filters in its WHERE clause. A checkpoint is the last (modified, Id) delivered, so a
resumed run queries from just after it. With dataTransferApi BULKV2 (or AUTOMATIC and at least
`bulk_threshold` matching records, AppFlow's 1,000,000) the query runs as a Bulk API 2.0 job instead,
read as CSV through `Sforce-Locator`, and a checkpoint is the job and the next locator.

A used-up API allowance (403 `REQUEST_LIMIT_EXCEEDED`, daily or concurrent) is a transient error,
not a refusal of the credentials.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from openprofiles import json_depth
from openprofiles.aws_access import AwsAccessRefused
from openprofiles.connectors import soql
from openprofiles.connectors.base import (
    Connection,
    Connector,
    ConnectorAuthError,
    ConnectorError,
    Entity,
    EntityField,
    ExtractRequest,
    NotGranted,
    Page,
)
from openprofiles.connectors.http import RefreshingBearer, VendorApi, default_describe_error, response_json, shorten

API_VERSION = "v60.0"
DATA = f"/services/data/{API_VERSION}"
TOKEN_PATH = "/services/oauth2/token"
#: AUTOMATIC switches to Bulk API 2.0 at this many matching records, as AppFlow does.
BULK_THRESHOLD = 1_000_000
#: REST query batches: Salesforce accepts a batchSize from 200 to 2000 (Sforce-Query-Options).
MIN_BATCH, MAX_BATCH = 200, 2000
#: The modified fields tried, in order, when the flow names none that the object has.
MODIFIED_FIELDS = ("LastModifiedDate", "SystemModstamp")
GRANT_TYPES = ("AUTHORIZATION_CODE", "CLIENT_CREDENTIALS", "JWT_BEARER")
#: The errorCode of a request refused for the org's API allowance (total per 24 hours, or concurrent).
LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"


def describe_error(response: httpx.Response) -> str:
    """Salesforce's words: `errorCode: message` from a REST error list, `error: description` from OAuth."""
    try:
        body = response_json(response)
    except ValueError:
        return default_describe_error(response)
    if isinstance(body, list) and body and all(isinstance(item, dict) for item in body):
        return "; ".join(f"{item.get('errorCode', 'ERROR')}: {item.get('message', '')}" for item in body)
    if isinstance(body, dict) and body.get("error"):
        return f"{body['error']}: {body.get('error_description', '')}".rstrip(": ")
    return default_describe_error(response)


def classify(response: httpx.Response, text: str) -> ConnectorError | None:
    """403 REQUEST_LIMIT_EXCEEDED is the org's API allowance used up: transient, not an auth error."""
    if response.status_code != 403:
        return None
    try:
        body = response_json(response)
    except ValueError:
        return None
    if isinstance(body, list) and any(isinstance(item, dict) and item.get("errorCode") == LIMIT_EXCEEDED
                                      for item in body):
        return ConnectorError(text, transient=True)
    return None


@dataclass(frozen=True)
class _Plan:
    """One extraction: the object, its field types, the SELECT list and the WHERE conditions."""

    entity: str
    types: Mapping[str, str]
    select: list[str]
    #: Compound fields in `select` that Bulk API 2.0 cannot return (left out of bulk queries).
    compound: frozenset[str]
    conditions: list[str]
    modified: str | None
    since: datetime | None
    until: datetime | None
    deleted: bool

    def soql(self, extra: Sequence[str] = (), *, bulk: bool = False, count: bool = False) -> str:
        """The query; a bulk one leaves out compound fields and ORDER BY, which Bulk API 2.0 refuses."""
        columns = [name for name in self.select if not (bulk and name in self.compound)]
        text = f"SELECT {'COUNT()' if count else ', '.join(columns)} FROM {self.entity}"
        where = [*self.conditions, *extra]
        if where:
            text += " WHERE " + " AND ".join(f"({c})" if " OR " in c else c for c in where)
        if not bulk and not count:
            text += f" ORDER BY {self.modified} ASC, Id ASC" if self.modified else " ORDER BY Id ASC"
        return text

    def modified_at(self, record: Mapping[str, Any]) -> datetime | None:
        return soql.instant(record.get(self.modified)) if self.modified else None

    def in_window(self, record: Mapping[str, Any]) -> bool:
        """The exact since/until test (the SOQL bounds are whole seconds)."""
        if self.since is None and self.until is None:
            return True
        moment = self.modified_at(record)
        if moment is None:
            return False
        return (self.since is None or moment >= self.since) and (self.until is None or moment < self.until)


class SalesforceConnector(Connector):
    """Salesforce objects through the REST API and Bulk API 2.0."""

    connector_type = "Salesforce"
    default_modified_field = "LastModifiedDate"

    def __init__(self, connection: Connection, *, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(connection)
        self.sleep = sleep
        self.bulk_threshold = BULK_THRESHOLD
        #: Seconds between Bulk API job status polls (doubling up to `max_poll`).
        self.poll_interval = 0.5
        self.max_poll = 10.0

    # Authentication.

    @property
    def instance_url(self) -> str:
        return str(self.connection.properties.get("instanceUrl") or "").rstrip("/")

    def _client_credentials(self) -> dict[str, str]:
        """The connected app's client id and secret, from the Secrets Manager secret clientCredentialsArn."""
        arn = self.connection.credentials.get("clientCredentialsArn")
        if not arn:
            return {}
        region = str(arn).split(":")[3] if str(arn).count(":") >= 6 else None
        try:
            # Only a secret the operator mapped to the account, or through the account's role.
            client = self.connection.grants.aws.client("secretsmanager", region or None, self.connection.account_id,
                                                       str(arn))
        except AwsAccessRefused as refused:
            raise NotGranted(f"clientCredentialsArn: {refused.message}") from None
        try:
            secret = json_depth.loads(client.get_secret_value(SecretId=arn)["SecretString"])
        except (BotoCoreError, ClientError, KeyError, ValueError) as error:
            raise ConnectorAuthError(f"clientCredentialsArn {arn}: {error}") from None
        if not isinstance(secret, dict) or not secret.get("clientId"):
            raise ConnectorAuthError(f"clientCredentialsArn {arn}: the secret needs clientId and clientSecret keys")
        found = {"client_id": str(secret["clientId"])}
        if secret.get("clientSecret"):
            found["client_secret"] = str(secret["clientSecret"])
        return found

    def _grant(self) -> dict[str, str] | None:
        """The token request that gets a new access token, or None when the credentials allow none."""
        credentials = self.connection.credentials
        grant_type = credentials.get("oAuth2GrantType") or "AUTHORIZATION_CODE"
        if grant_type not in GRANT_TYPES:
            raise ConnectorAuthError(f"oAuth2GrantType {grant_type} is not one of {', '.join(GRANT_TYPES)}")
        if grant_type == "JWT_BEARER":
            if not credentials.get("jwtToken"):
                raise ConnectorAuthError("oAuth2GrantType JWT_BEARER needs jwtToken")
            return {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": credentials["jwtToken"]}
        if grant_type == "CLIENT_CREDENTIALS":
            client = self._client_credentials()
            if "client_secret" not in client:
                raise ConnectorAuthError("oAuth2GrantType CLIENT_CREDENTIALS needs clientCredentialsArn "
                                         "(a secret with clientId and clientSecret)")
            return {"grant_type": "client_credentials", **client}
        if credentials.get("refreshToken"):
            return {"grant_type": "refresh_token", "refresh_token": credentials["refreshToken"],
                    **self._client_credentials()}
        return None

    def _fetch_token(self, form: dict[str, str]) -> str:
        token_api = VendorApi("Salesforce", self.instance_url, egress=self.connection.grants,
                              describe_error=describe_error, sleep=self.sleep)
        try:
            body = token_api.json("POST", TOKEN_PATH, data=form)
        except ConnectorError as error:
            if error.transient or isinstance(error, NotGranted):
                raise
            raise ConnectorAuthError(f"Salesforce refused a new access token: {error.message}") from None
        finally:
            token_api.close()
        if not isinstance(body, dict) or not body.get("access_token"):
            raise ConnectorAuthError("Salesforce token endpoint answered without an access_token")
        return str(body["access_token"])

    @cached_property
    def api(self) -> VendorApi:
        grant = self._grant()
        token = self.connection.credentials.get("accessToken")
        if not token and grant is None:
            raise ConnectorAuthError("Salesforce credentials need accessToken, or a refreshToken, "
                                     "CLIENT_CREDENTIALS or JWT_BEARER grant to get one")
        refresh = (lambda: self._fetch_token(grant)) if grant is not None else None
        return VendorApi("Salesforce", self.instance_url, egress=self.connection.grants,
                         auth=RefreshingBearer(token, refresh),
                         describe_error=describe_error, classify=classify, sleep=self.sleep)

    # Metadata.

    def check(self) -> None:
        self.api.get_json(f"{DATA}/limits/")

    def entities(self, path: str | None = None) -> list[Entity]:
        body = self.api.get_json(f"{DATA}/sobjects/")
        return [
            Entity(name=item["name"], label=item.get("label") or item["name"])
            for item in body.get("sobjects", []) if item.get("queryable")
        ]

    def _describe(self, entity: str) -> list[dict[str, Any]]:
        if not soql.NAME.fullmatch(entity):
            raise ConnectorError(f"{entity!r} is not a Salesforce object name")
        fields: list[dict[str, Any]] = self.api.get_json(f"{DATA}/sobjects/{entity}/describe/").get("fields", [])
        return fields

    def describe(self, entity: str) -> list[EntityField]:
        return [
            EntityField(name=f["name"], data_type=soql.data_type(f.get("type", "string")), label=f.get("label"),
                        description=f"Salesforce type {f.get('type')}", nullable=bool(f.get("nillable", True)))
            for f in self._describe(entity)
        ]

    # Extraction.

    def _plan(self, request: ExtractRequest) -> _Plan:
        entity = str(request.source_properties.get("object") or request.entity)
        described = self._describe(entity)
        types = {f["name"]: str(f.get("type", "string")) for f in described}
        modified = self._modified_field(entity, request, types)
        if request.fields:
            missing = [name for name in request.fields if name not in types]
            if missing:
                raise ConnectorError(f"Salesforce object {entity} has no field(s) {', '.join(missing)}")
            # The flow tests its filters on the source records, so filtered fields are selected too.
            filtered = [f.field for f in request.filters if f.field in types]
            select = list(dict.fromkeys(["Id", *([modified] if modified else []), *request.fields, *filtered]))
            compound: frozenset[str] = frozenset()
        else:
            select = [f["name"] for f in described]
            compound = frozenset(f["name"] for f in described if f.get("type") in soql.COMPOUND_TYPES)
        conditions = []
        if modified and request.since is not None:
            conditions.append(f"{modified} >= {soql.temporal_literal(types[modified], request.since)[0]}")
        if modified and request.until is not None:
            literal, exact = soql.temporal_literal(types[modified], request.until, upward=True)
            conditions.append(f"{modified} {'<' if exact else '<='} {literal}")
        filterable = {f["name"] for f in described if f.get("filterable", True)}
        for record_filter in request.filters:
            if record_filter.field in filterable:
                pushed = soql.condition(record_filter, types[record_filter.field])
                if pushed:
                    conditions.append(pushed)
        deleted = bool(request.source_properties.get("includeDeletedRecords"))
        return _Plan(entity, types, select, compound, conditions, modified, request.since, request.until, deleted)

    @staticmethod
    def _modified_field(entity: str, request: ExtractRequest, types: Mapping[str, str]) -> str | None:
        """The field that orders records and bounds incremental pulls: the flow's, else the first of
        MODIFIED_FIELDS the object has (None when it has none and the pull needs no window)."""
        wanted = request.modified_field
        candidates = [wanted] if wanted else []
        if wanted is None or wanted in MODIFIED_FIELDS:
            candidates += MODIFIED_FIELDS
        found = next((name for name in candidates if name in types), None)
        if wanted and found is None and wanted not in MODIFIED_FIELDS:
            raise ConnectorError(f"Salesforce object {entity} has no field {wanted}")
        if found is not None and types[found] not in ("date", "datetime"):
            raise ConnectorError(f"{entity}.{found} is a {types[found]} field, not a date or datetime")
        if found is None and (request.since is not None or request.until is not None):
            raise ConnectorError(f"Salesforce object {entity} has no LastModifiedDate or SystemModstamp; "
                                 "name a datetime field in incrementalPullConfig.datetimeTypeFieldName")
        return found

    def extract(self, request: ExtractRequest) -> Iterator[Page]:
        checkpoint = request.checkpoint if isinstance(request.checkpoint, dict) else None
        choice = str(request.source_properties.get("dataTransferApi") or "AUTOMATIC")
        plan = self._plan(request)
        if checkpoint is not None:
            bulk = checkpoint.get("api") == "BULKV2"
        elif choice == "AUTOMATIC":
            bulk = self._count(plan) >= self.bulk_threshold
        else:
            bulk = choice == "BULKV2"
        if bulk:
            yield from self._bulk(plan, request.page_size, checkpoint)
        else:
            yield from self._rest(plan, request.page_size, checkpoint)

    def _count(self, plan: _Plan) -> int:
        body = self.api.get_json(f"{DATA}/{'queryAll' if plan.deleted else 'query'}/",
                                 params={"q": plan.soql(count=True)})
        return int(body.get("totalSize", 0))

    def _page(self, plan: _Plan, records: list[dict[str, Any]], checkpoint: Any) -> Page:
        times = [moment for moment in map(plan.modified_at, records) if moment is not None]
        return Page(records, checkpoint, max(times) if times else None)

    # REST: one SOQL query, batch by batch.

    def _after(self, plan: _Plan, checkpoint: Mapping[str, Any] | None) -> tuple[list[str], Callable[[dict[str, Any]],
                                                                                                       bool]]:
        """The WHERE condition for records after a REST checkpoint, and an exact test of the same."""
        if not checkpoint or not checkpoint.get("id"):
            return [], lambda record: True
        last_id = str(checkpoint["id"])
        if plan.modified is None:
            return [f"Id > {soql.quote(last_id)}"], lambda record: True
        field, last = plan.modified, soql.instant(checkpoint.get("modified"))
        if last is None:
            return [f"({field} = null AND Id > {soql.quote(last_id)}) OR {field} != null"], lambda record: True
        literal, exact = soql.temporal_literal(plan.types[field], last)
        if exact:
            return [f"{field} > {literal} OR ({field} = {literal} AND Id > {soql.quote(last_id)})"], lambda r: True

        def later(record: dict[str, Any]) -> bool:
            moment = plan.modified_at(record)
            return moment is not None and (moment > last or (moment == last and str(record.get("Id")) > last_id))
        return [f"{field} >= {literal}"], later

    def _rest(self, plan: _Plan, page_size: int, checkpoint: Mapping[str, Any] | None) -> Iterator[Page]:
        extra, later = self._after(plan, checkpoint)
        batch = min(MAX_BATCH, max(MIN_BATCH, page_size))
        headers = {"Sforce-Query-Options": f"batchSize={batch}"}
        body = self.api.get_json(f"{DATA}/{'queryAll' if plan.deleted else 'query'}/",
                                 params={"q": plan.soql(extra)}, headers=headers)
        while True:
            records = []
            for record in body.get("records", []):
                record.pop("attributes", None)
                if plan.in_window(record) and later(record):
                    records.append(record)
            for start in range(0, len(records), page_size):
                chunk = records[start:start + page_size]
                last = chunk[-1]
                position = {"api": "REST", "id": last.get("Id"),
                            "modified": last.get(plan.modified) if plan.modified else None}
                yield self._page(plan, chunk, position)
            next_url = body.get("nextRecordsUrl")
            if body.get("done", True) or not next_url:
                return
            body = self.api.get_json(str(next_url), headers=headers)

    # Bulk API 2.0: an asynchronous query job, read as CSV.

    def _bulk(self, plan: _Plan, page_size: int, checkpoint: Mapping[str, Any] | None) -> Iterator[Page]:
        if checkpoint and checkpoint.get("job"):
            job_id = str(checkpoint["job"])
            if checkpoint.get("done"):
                return
        else:
            created = self.api.json("POST", f"{DATA}/jobs/query", json={
                "operation": "queryAll" if plan.deleted else "query", "query": plan.soql(bulk=True)})
            job_id = str(created["id"])
        self._await_job(job_id)
        locator = checkpoint.get("locator") if checkpoint else None
        while True:
            params: dict[str, Any] = {"maxRecords": page_size}
            if locator:
                params["locator"] = locator
            response = self.api.request("GET", f"{DATA}/jobs/query/{job_id}/results", params=params,
                                        headers={"Accept": "text/csv"})
            following = response.headers.get("Sforce-Locator")
            locator = None if following in (None, "", "null") else following
            records = [self._typed(plan, row) for row in csv.DictReader(io.StringIO(response.text))]
            records = [record for record in records if plan.in_window(record)]
            position = {"api": "BULKV2", "job": job_id, "locator": locator, "done": locator is None}
            if records:
                yield self._page(plan, records, position)
            if locator is None:
                return

    def _await_job(self, job_id: str) -> None:
        wait = self.poll_interval
        while True:
            job = self.api.get_json(f"{DATA}/jobs/query/{job_id}")
            state = job.get("state")
            if state == "JobComplete":
                return
            if state in ("Failed", "Aborted"):
                raise ConnectorError(f"Salesforce Bulk API query job {job_id} {state}: "
                                     f"{shorten(str(job.get('errorMessage', '')))}")
            self.sleep(wait)
            wait = min(self.max_poll, wait * 2)

    @staticmethod
    def _typed(plan: _Plan, row: dict[str, str]) -> dict[str, Any]:
        """A CSV row with the REST API's value types (Bulk API 2.0 writes null as an empty value)."""
        record: dict[str, Any] = {}
        for name, text in row.items():
            kind = plan.types.get(name, "string")
            if text == "":
                record[name] = None
            elif kind == "boolean":
                record[name] = text.lower() == "true"
            elif kind in ("int", "long"):
                record[name] = int(text)
            elif kind in ("double", "currency", "percent"):
                record[name] = float(text)
            else:
                record[name] = text
        return record
