"""The operations of a document, each with a safe name and a standalone input schema."""

from dataclasses import dataclass, field

from . import names
from .convert import SchemaConverter
from .errors import SchemaError, pointer_join
from .outputs import OutputSchemas
from .refs import lookup, resolve
from .sendable import sendable, sendable_form

METHODS_3 = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
METHODS_2 = ("get", "put", "post", "delete", "options", "head", "patch")
LOCATIONS = ("path", "query", "header", "cookie")
BODY_PROPERTY = "body"

FORM_URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
JSON = "application/json"


@dataclass
class ParsedOperation:
    method: str
    path: str
    name: str
    tags: list[str]
    summary: str
    description: str
    deprecated: bool
    input_schema: dict
    parameters: list[dict]
    request_body: dict | None
    security: list[dict] | None
    servers: list[str]
    # JSON Schema of what a call's result holds: {status_code, headers, body} (see outputs.py).
    output_schema: dict = field(default_factory=dict)
    # Why no supported credential can call the method ("" when one can; see security.py).
    unusable_reason: str = ""


def _text(value) -> str:
    return value if type(value) is str else ""


def _where(*parts) -> str:
    return pointer_join(parts) or "/"


def collect_operations(document: dict, *, version: str, warnings: list[str], max_operations: int):
    """Every operation of the document, in document order, as ParsedOperation."""
    swagger = version == "2.0"
    methods = METHODS_2 if swagger else METHODS_3
    paths = document.get("paths")
    if paths is not None and type(paths) is not dict:
        raise SchemaError("paths must be an object mapping paths to their operations.", pointer="/paths")
    raw_ops = []  # (path, method, operation, path_item)
    for path, item in (paths or {}).items():
        if path.startswith("x-"):
            continue
        if type(item) is dict and type(item.get("$ref")) is str:
            try:
                item = lookup(document, item["$ref"])
            except (KeyError, IndexError):
                item = None
        if type(item) is not dict:
            warnings.append(f"at {_where('paths', path)}: not a path item; skipped")
            continue
        for method in methods:
            operation = item.get(method)
            if operation is None:
                continue
            if type(operation) is not dict:
                warnings.append(f"at {_where('paths', path, method)}: not an operation; skipped")
                continue
            raw_ops.append((path, method, operation, item))
            if len(raw_ops) > max_operations:
                raise SchemaError(f"The schema has more than the limit of {max_operations:,} operations.")
    if not raw_ops:
        raise SchemaError("The schema has nothing to import: it declares no operations under paths.", pointer="/paths")

    # One prance resolution over the parts that make the input schemas (parameters and request
    # bodies), rather than over the whole document: responses and examples are never needed.
    skeleton = [
        {
            "path_parameters": item.get("parameters", []),
            "parameters": operation.get("parameters", []),
            "request_body": operation.get("requestBody"),
        }
        for _path, _method, operation, item in raw_ops
    ]
    resolved, origins = resolve(skeleton, document)

    dialect = "2.0" if swagger else version[:3]
    operation_names = _assign_names(raw_ops, warnings)
    global_security = document.get("security")
    output_warnings: list[str] = []
    outputs = OutputSchemas(document, dialect=dialect, warnings=output_warnings)
    result = []
    for (path, method, operation, item), parts, name in zip(raw_ops, resolved, operation_names, strict=True):
        where = ("paths", path, method)
        converter = SchemaConverter(
            document=document, origins=origins, dialect=dialect, warnings=warnings, where=_where(*where)
        )
        builder = _InputBuilder(converter, where, warnings)
        params = _merge_parameters(parts["path_parameters"], parts["parameters"], where, warnings)
        if swagger:
            consumes = operation.get("consumes", document.get("consumes"))
            parameters, request_body = builder.swagger(params, consumes if type(consumes) is list else [])
        else:
            parameters, request_body = builder.openapi3(params, parts["request_body"])
        security = operation.get("security", global_security)
        produces = operation.get("produces", document.get("produces")) if swagger else None
        result.append(
            ParsedOperation(
                method=method.upper(),
                path=path,
                name=name,
                tags=[tag for tag in operation.get("tags") or [] if type(tag) is str]
                if type(operation.get("tags")) is list
                else [],
                summary=_text(operation.get("summary")),
                description=_text(operation.get("description")),
                deprecated=operation.get("deprecated") is True,
                input_schema=converter.finish(builder.input_schema()),
                parameters=parameters,
                request_body=request_body,
                security=_security(security, (*where, "security"), warnings),
                servers=_servers(operation.get("servers") or item.get("servers")),
                output_schema=outputs.for_operation(operation, produces=produces if type(produces) is list else None),
            )
        )
    if output_warnings:
        unique = list(dict.fromkeys(output_warnings))
        warnings.append(
            f"Response schemas: {len(unique)} problem(s) repaired in what calls answer, such as: {unique[0][:300]}"
        )
    return result


def _servers(servers) -> list[str]:
    if type(servers) is not list:
        return []
    return [server_url(server) for server in servers if type(server) is dict and type(server.get("url")) is str]


def server_url(server: dict) -> str:
    """A server's URL with its variables replaced by their defaults."""
    url = server["url"]
    variables = server.get("variables")
    if type(variables) is dict:
        for key, variable in variables.items():
            if type(variable) is dict and variable.get("default") is not None:
                url = url.replace("{" + key + "}", str(variable["default"]))
    return url


def _security(security, where: tuple, warnings: list[str]) -> list[dict] | None:
    if security is None:
        return None
    if type(security) is not list:
        warnings.append(f"at {_where(*where)}: security is not a list; ignored")
        return None
    alternatives = []
    for alternative in security:
        if type(alternative) is not dict:
            warnings.append(f"at {_where(*where)}: a security requirement is not an object; skipped")
            continue
        alternatives.append(
            {
                str(scheme): [scope for scope in scopes if type(scope) is str] if type(scopes) is list else []
                for scheme, scopes in alternative.items()
            }
        )
    return alternatives


def _assign_names(raw_ops, warnings: list[str]) -> list[str]:
    """Names from operationId where it is already safe and unique, then repaired ones, then made-up ones."""
    result: list[str | None] = [None] * len(raw_ops)
    taken: set[str] = set()
    later = []
    for index, (_path, _method, operation, _item) in enumerate(raw_ops):
        operation_id = operation.get("operationId")
        if type(operation_id) is str and names.SAFE_NAME.match(operation_id) and operation_id not in taken:
            result[index] = operation_id
            taken.add(operation_id)
        else:
            later.append(index)
    for index in later:
        path, method, operation, _item = raw_ops[index]
        operation_id = operation.get("operationId")
        where = _where("paths", path, method, "operationId")
        if type(operation_id) is str and operation_id.strip():
            safe = names.make_safe(operation_id) or names.synthesize(method, path)
            name = names.unique(safe, taken)
            if operation_id in taken or (safe == operation_id and name != safe):
                warnings.append(f"at {where}: operationId {operation_id!r} is used more than once; named {name!r}")
            else:
                warnings.append(f"at {where}: operationId {operation_id!r} is not a safe name; named {name!r}")
        else:
            if operation_id is not None:
                warnings.append(f"at {where}: operationId is not text; ignored")
            name = names.unique(names.synthesize(method, path), taken)
        result[index] = name
        taken.add(name)
    return result


def _merge_parameters(path_level, op_level, where: tuple, warnings: list[str]) -> list[tuple[dict, tuple]]:
    """Path-level and operation-level parameters, the operation's winning by (name, in)."""
    merged: dict[tuple, tuple[dict, tuple]] = {}
    for level, params, base in (
        ("path item", path_level, (*where[:2], "parameters")),
        ("operation", op_level, (*where, "parameters")),
    ):
        if params is None:
            continue
        if type(params) is not list:
            warnings.append(f"at {_where(*base)}: parameters of the {level} is not a list; ignored")
            continue
        for index, param in enumerate(params):
            at = (*base, index)
            if type(param) is not dict or type(param.get("name")) is not str or type(param.get("in")) is not str:
                warnings.append(f"at {_where(*at)}: a parameter without a name or location; skipped")
                continue
            merged[(param["name"], param["in"])] = (param, at)
    return list(merged.values())


class _InputBuilder:
    """Builds one operation's input schema and the location of each of its properties."""

    def __init__(self, converter: SchemaConverter, where: tuple, warnings: list[str]):
        self.converter = converter
        self.where = where
        self.warnings = warnings
        self.properties: dict[str, object] = {}
        self.required: list[str] = []

    def input_schema(self) -> dict:
        # The top level's names are ours: an argument of another name is a mistake, refused by name.
        return {
            "type": "object",
            "properties": self.properties,
            "required": self.required,
            "additionalProperties": False,
        }

    def _property_name(self, name: str, location: str) -> str:
        if name not in self.properties and name != BODY_PROPERTY:
            return name
        base = f"{location}_{name}"
        candidate, counter = base, 2
        while candidate in self.properties or candidate == BODY_PROPERTY:
            candidate = f"{base}_{counter}"
            counter += 1
        return candidate

    def _add(self, name: str, location: str, schema, required: bool) -> str:
        prop = self._property_name(name, location)
        self.properties[prop] = schema
        if required:
            self.required.append(prop)
        return prop

    def _param_schema(self, param: dict, at: tuple):
        content_type = None
        schema = param.get("schema")
        content = param.get("content")
        if schema is None and type(content) is dict and content:
            content_type, media = next(iter(content.items()))
            schema = media.get("schema") if type(media) is dict else None
        if type(schema) is not dict and type(schema) is not bool:
            self.warnings.append(f"at {_where(*at)}: parameter {param['name']!r} has no schema; read as a string")
            schema = {"type": "string"}
        converted = self.converter.convert(schema)
        if type(converted) is dict:
            converted = dict(converted)
            for key in ("description", "deprecated"):
                if key in param and key not in converted:
                    converted[key] = param[key]
        return converted, content_type

    def openapi3(self, params, request_body):
        parameters = []
        for param, at in params:
            location = param["in"]
            if location not in LOCATIONS:
                self.warnings.append(f"at {_where(*at)}: unknown parameter location {location!r}; skipped")
                continue
            schema, content_type = self._param_schema(param, at)
            required = param.get("required") is True
            if location == "path" and not required:
                required = True
                if "required" in param:
                    self.warnings.append(f"at {_where(*at)}: a path parameter is always required; made required")
            style = param.get("style")
            if type(style) is not str:
                style = "form" if location in ("query", "cookie") else "simple"
            explode = param.get("explode")
            if type(explode) is not bool:
                explode = style == "form"
            schema = sendable(
                schema,
                location=location,
                required=required,
                allow_empty=param.get("allowEmptyValue") is True,
                content=content_type is not None,
                style=style,
            )
            entry = {
                "name": param["name"],
                "in": location,
                "style": style,
                "explode": explode,
                "required": required,
                "allow_reserved": param.get("allowReserved") is True,
                "property": self._add(param["name"], location, schema, required),
            }
            if content_type is not None:
                entry["content_type"] = content_type
            parameters.append(entry)
        body = None
        if request_body is not None:
            body = self._openapi3_body(request_body, (*self.where, "requestBody"))
        return parameters, body

    def _openapi3_body(self, request_body, at: tuple):
        if type(request_body) is not dict:
            self.warnings.append(f"at {_where(*at)}: requestBody is not an object; skipped")
            return None
        content = request_body.get("content")
        if type(content) is not dict or not content:
            self.warnings.append(f"at {_where(*at)}: requestBody has no content; skipped")
            return None
        content_type = choose_content_type(list(content))
        media = content[content_type] if type(content[content_type]) is dict else {}
        schema = media.get("schema")
        if type(schema) is not dict and type(schema) is not bool:
            schema = default_body_schema(content_type)
        converted = self.converter.convert(schema)
        if type(converted) is dict and type(request_body.get("description")) is str and "description" not in converted:
            converted = {**converted, "description": request_body["description"]}
        required = request_body.get("required") is True
        encoding = media.get("encoding")
        if content_type.split(";", 1)[0].strip().lower() in (FORM_URLENCODED, MULTIPART):
            sendable_form(converted, encoding=encoding if type(encoding) is dict else {})
        self.properties[BODY_PROPERTY] = converted
        if required:
            self.required.append(BODY_PROPERTY)
        return {
            "content_type": content_type,
            "required": required,
            "encoding": encoding if type(encoding) is dict else {},
            "property": BODY_PROPERTY,
        }

    def swagger(self, params, consumes: list):
        parameters = []
        form_fields: dict[str, object] = {}
        form_required: list[str] = []
        has_file = False
        body = None
        for param, at in params:
            location = param["in"]
            if location == "body":
                schema = param.get("schema")
                if type(schema) is not dict:
                    self.warnings.append(f"at {_where(*at)}: body parameter has no schema; read as any value")
                    schema = {}
                converted = self.converter.convert(schema)
                if type(converted) is dict and type(param.get("description")) is str and "description" not in converted:
                    converted = {**converted, "description": param["description"]}
                required = param.get("required") is True
                self.properties[BODY_PROPERTY] = converted
                if required:
                    self.required.append(BODY_PROPERTY)
                json_types = [c for c in consumes if type(c) is str and is_json(c)]
                body = {
                    "content_type": json_types[0] if json_types else (consumes[0] if consumes else JSON),
                    "required": required,
                    "encoding": {},
                    "property": BODY_PROPERTY,
                }
                continue
            schema = self._swagger_param_schema(param, at)
            if location == "formData":
                has_file = has_file or param.get("type") == "file"
                form_fields[param["name"]] = schema
                if param.get("required") is True:
                    form_required.append(param["name"])
                continue
            if location not in LOCATIONS:
                self.warnings.append(f"at {_where(*at)}: unknown parameter location {location!r}; skipped")
                continue
            required = param.get("required") is True or location == "path"
            style, explode = _collection_style(param, location, at, self.warnings)
            schema = sendable(
                schema, location=location, required=required, allow_empty=param.get("allowEmptyValue") is True
            )
            parameters.append(
                {
                    "name": param["name"],
                    "in": location,
                    "style": style,
                    "explode": explode,
                    "required": required,
                    "allow_reserved": False,
                    "property": self._add(param["name"], location, schema, required),
                }
            )
        if form_fields and body is None:
            if MULTIPART in consumes and (has_file or FORM_URLENCODED not in consumes):
                content_type = MULTIPART
            elif FORM_URLENCODED in consumes:
                content_type = FORM_URLENCODED
            else:
                content_type = MULTIPART if has_file else FORM_URLENCODED
            self.properties[BODY_PROPERTY] = {
                "type": "object",
                "properties": form_fields,
                "required": form_required,
                "additionalProperties": False,
            }
            sendable_form(self.properties[BODY_PROPERTY], encoding={})
            if form_required:
                self.required.append(BODY_PROPERTY)
            body = {
                "content_type": content_type,
                "required": bool(form_required),
                "encoding": {},
                "property": BODY_PROPERTY,
            }
        elif form_fields:
            self.warnings.append(f"at {_where(*self.where)}: both a body and form parameters; form parameters ignored")
        return parameters, body

    def _swagger_param_schema(self, param: dict, at: tuple):
        schema = {
            key: value
            for key, value in param.items()
            if key not in ("name", "in", "required", "collectionFormat", "allowEmptyValue")
        }
        if "type" not in schema:
            self.warnings.append(f"at {_where(*at)}: parameter {param['name']!r} has no type; read as a string")
            schema["type"] = "string"
        if schema.get("type") == "array" and "items" not in schema:
            schema["items"] = {"type": "string"}
        return self.converter.convert(schema)


def _collection_style(param: dict, location: str, at: tuple, warnings: list[str]) -> tuple[str, bool]:
    simple = "form" if location in ("query", "cookie") else "simple"
    if param.get("type") != "array":
        return simple, simple == "form"
    fmt = param.get("collectionFormat", "csv")
    if fmt == "multi":
        return "form", True
    if fmt == "ssv":
        return "spaceDelimited", False
    if fmt == "pipes":
        return "pipeDelimited", False
    if fmt not in ("csv", None):
        warnings.append(f"at {_where(*at)}: collectionFormat {fmt!r} is not supported; read as csv")
    return simple, False


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == JSON or media.endswith(("+json", "/json"))


def choose_content_type(content_types: list[str]) -> str:
    """The media type a call will send: JSON first, then forms, then the first one listed."""
    for content_type in content_types:
        if is_json(content_type):
            return content_type
    for wanted in (FORM_URLENCODED, MULTIPART):
        for content_type in content_types:
            if content_type.split(";", 1)[0].strip().lower() == wanted:
                return content_type
    return content_types[0]


def default_body_schema(content_type: str) -> dict:
    media = content_type.split(";", 1)[0].strip().lower()
    if is_json(media) or media in (FORM_URLENCODED, MULTIPART):
        return {}
    if media.startswith("text/"):
        return {"type": "string"}
    return {"type": "string", "format": "binary"}
