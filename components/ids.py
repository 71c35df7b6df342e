"""Every component id, one class per page (kebab-case ``<page>-<thing>-<widget>``).

The app shell's classes come first (App, Nav, FilterBar, Grid), then one class per page in the
sidebar's order: Business, Operations, Admin.
"""

from __future__ import annotations


class App:
    URL = "app-url"
    ALERT_BADGE = "app-alert-badge"  # the header's open critical alerts link (hidden at 0)
    ALERT_BADGE_COUNT = "app-alert-badge-count"
    ALERT_INTERVAL = "app-alert-badge-interval"
    SIDEBAR = "app-sidebar"
    THEME_SWITCH = "app-theme-switch"
    THEME_STORE = "app-theme-store"
    THEME_DUMMY = "app-theme-dummy"
    NAV_SEARCH_DUMMY = "app-nav-search-dummy"
    USER_BADGE = "app-user-badge"
    EXPORT_PDF_LINK = "app-export-pdf-link"  # "Export this page as PDF" in the header
    EXPORT_PDF_STORE = "app-export-pdf-store"  # {"<page path>": "<export URL>"} the user may open

    @staticmethod
    def language(code: str) -> str:
        return f"app-language-{code}"


class Nav:
    """Sidebar links (pattern-matching, so clientside callbacks can update them together)."""

    @staticmethod
    def link(path: str, group: str) -> dict:
        return {"type": "app-nav-link", "group": group, "path": path}


class FilterBar:
    """The global filter bar, rendered by every business page from its URL query."""

    PRESET = "filter-preset-dropdown"
    DATE_RANGE = "filter-date-range"
    PLATFORM = "filter-platform-dropdown"
    CATEGORY = "filter-category-dropdown"
    NOTICE = "filter-notice-alert"
    STATE_STORE = "filter-state-store"


class Grid:
    """Pattern-matching ids for every data grid and its download menu."""

    @staticmethod
    def grid(name: str) -> dict:
        return {"type": "grid-table", "name": name}

    @staticmethod
    def download_item(name: str, fmt: str) -> dict:
        return {"type": "grid-download-item", "name": name, "format": fmt}

    @staticmethod
    def download(name: str) -> dict:
        return {"type": "grid-download", "name": name}

    @staticmethod
    def message(name: str) -> dict:
        return {"type": "grid-download-message", "name": name}

    @staticmethod
    def spec(name: str) -> dict:
        return {"type": "grid-spec-store", "name": name}


class Overview:
    """/: key figures, the revenue trend, orders by platform and status, top products."""

    KPI_ROW = "overview-kpi-row"
    GRANULARITY = "overview-granularity-radio"
    REVENUE_GRAPH = "overview-revenue-graph"
    PLATFORM_STATUS_GRAPH = "overview-platform-status-graph"
    TOP_PRODUCTS = "overview-top-products"
    TOP_PRODUCTS_MESSAGE = "overview-top-products-message"
    GRANULARITY_URL_DUMMY = "overview-granularity-url-dummy"

    @staticmethod
    def kpi_card(index: str) -> dict:
        return {"type": "overview-kpi-card", "index": index}


class Sales:
    """/sales: revenue with growth, orders, cancellations, rankings; charts cross-filter."""

    GRID_NAME = "sales-products"
    GROWTH_GRID_NAME = "sales-growth"
    GROWTH_BY = "sales-growth-by-radio"
    GROWTH_BY_URL_DUMMY = "sales-growth-by-url-dummy"
    GROWTH_MESSAGE = "sales-growth-message"
    GRANULARITY = "sales-granularity-radio"
    GRANULARITY_URL_DUMMY = "sales-granularity-url-dummy"
    RANK_METRIC = "sales-rank-metric-radio"
    RANK_URL_DUMMY = "sales-rank-url-dummy"
    STATUS_STORE = "sales-status-store"
    STATUS_URL_DUMMY = "sales-status-url-dummy"
    CHIPS = "sales-chips-bar"
    NOTICE = "sales-notice-alert"
    KPI_ROW = "sales-kpi-row"
    REVENUE_GRAPH = "sales-revenue-graph"
    GROWTH_GRAPH = "sales-growth-graph"
    ORDERS_GRAPH = "sales-orders-graph"
    LOST_GRAPH = "sales-lost-graph"
    PLATFORM_GRAPH = "sales-platform-graph"
    STATUS_GRAPH = "sales-status-graph"
    CATEGORY_GRAPH = "sales-category-graph"
    RANKING_GRAPH = "sales-ranking-graph"
    PRODUCTS_MESSAGE = "sales-products-message"

    @staticmethod
    def chip_clear(dimension: str) -> dict:
        return {"type": "sales-chip-clear", "dimension": dimension}

    @staticmethod
    def kpi_card(index: str) -> dict:
        return {"type": "sales-kpi-card", "index": index}


class Customers:
    """/customers: KPIs, segments and their movement, cohorts, RFM,
    churn tags, the customer list."""

    GRID_NAME = "customers-list"
    KPI_ROW = "customers-kpi-row"
    CHURN_MODEL = "customers-churn-model-body"
    STATUS = "customers-status-text"
    RECOMPUTE = "customers-recompute-button"
    RECOMPUTE_MESSAGE = "customers-recompute-alert"
    REFRESH_STORE = "customers-refresh-store"
    SEGMENT_GRAPH = "customers-segment-graph"
    TREND_GRAPH = "customers-segment-trend-graph"
    MOVEMENT_GRAPH = "customers-movement-graph"
    COHORT_GRAPH = "customers-cohort-graph"
    RFM_GRAPH = "customers-rfm-graph"
    TAGS_GRAPH = "customers-tags-graph"
    SEGMENT = "customers-segment-dropdown"
    TAG = "customers-tag-dropdown"
    TAG_URL_DUMMY = "customers-tag-url-dummy"
    SEARCH = "customers-search-input"
    LIST_COUNT = "customers-list-count-text"
    LIST_MESSAGE = "customers-list-message"
    LIST_QUERY_STORE = "customers-list-query-store"
    LIST_TOTAL_STORE = "customers-list-total-store"
    LIST_PURGE_STORE = "customers-list-purge-store"
    LIST_KEYS_STORE = "customers-list-keys-store"
    LIST_SLOT = "customers-list-slot"
    LIST_SHOWN_STORE = "customers-list-shown-store"
    RECOMPUTE_RUN_STORE = "customers-recompute-run-store"
    RECOMPUTE_POLL = "customers-recompute-interval"
    LIST_DOWNLOAD = "customers-list-download"
    LIST_DOWNLOAD_MESSAGE = "customers-list-download-message"

    @staticmethod
    def download_item(name: str, fmt: str) -> dict:
        """The list's own download items: its rows are on the server, not in the browser."""
        return {"type": "customers-download-item", "name": name, "format": fmt}


class Orders:
    """/orders: every order, paged, sorted and filtered on the server, and its exports."""

    GRID_NAME = "orders-list"
    STATUS = "orders-status-dropdown"
    SEARCH = "orders-search-input"
    COUNT = "orders-count-text"
    MESSAGE = "orders-message"
    QUERY_STORE = "orders-query-store"
    TOTAL_STORE = "orders-total-store"
    PURGE_STORE = "orders-purge-store"
    URL_DUMMY = "orders-url-dummy"
    DOWNLOAD_MENU = "orders-download-menu"

    @staticmethod
    def export_link(fmt: str) -> dict:
        return {"type": "orders-export-link", "format": fmt}


class Events:
    """/events: every event with cost, revenue, ROI and attendance; a click opens its page."""

    GRID_NAME = "events-list"
    MESSAGE = "events-list-message"
    NAV = "events-nav-location"


class EventDetail:
    """/events/<event_id>: summary cards, channels, participants, costs, suggestions, what-if."""

    EVENT_STORE = "event-detail-event-store"
    NOT_FOUND = "event-detail-not-found-alert"
    SUMMARY_ROW = "event-detail-summary-row"
    CHANNEL_NOTICE = "event-detail-channel-notice"
    CHANNEL_GRAPH = "event-detail-channel-graph"
    CHANNEL_TABLE = "event-detail-channel-table"
    CHECKINS_GRAPH = "event-detail-checkins-graph"
    PROFILE_GRAPH = "event-detail-profile-graph"
    COMPARISON_GRAPH = "event-detail-comparison-graph"
    COSTS_GRAPH = "event-detail-costs-graph"
    SUGGESTIONS = "event-detail-suggestions-list"
    WHATIF_COST = "event-detail-whatif-cost-input"
    WHATIF_ATTENDANCE = "event-detail-whatif-attendance-input"
    WHATIF_PRICE = "event-detail-whatif-price-input"
    WHATIF_RESULT = "event-detail-whatif-result"

    @staticmethod
    def summary_card(index: str) -> dict:
        return {"type": "event-detail-summary-card", "index": index}


class OpsHealth:
    """/ops/health: overall status, one tile per check, resources, circuit breakers; live."""

    OVERALL = "ops-health-overall-badge"
    CHECKED_AT = "ops-health-checked-text"
    BANNER = "ops-health-banner-alert"
    TILES = "ops-health-tiles-row"
    CPU_GRAPH = "ops-health-cpu-graph"
    MEMORY_GRAPH = "ops-health-memory-graph"
    DISK_GRAPH = "ops-health-disk-graph"
    NETWORK_GRAPH = "ops-health-network-graph"
    BREAKERS = "ops-health-breakers-table"
    INTERVAL = "ops-health-refresh-interval"
    VISIBILITY_DUMMY = "ops-health-visibility-dummy"

    @staticmethod
    def tile_status(name: str) -> dict:
        return {"type": "ops-health-tile-status", "index": name}

    @staticmethod
    def tile_latency(name: str) -> dict:
        return {"type": "ops-health-tile-latency", "index": name}

    @staticmethod
    def tile_error(name: str) -> dict:
        return {"type": "ops-health-tile-error", "index": name}

    @staticmethod
    def tile_spark(name: str) -> dict:
        return {"type": "ops-health-tile-spark", "index": name}


class OpsPerformance:
    """/ops/performance: response times, throughput, errors and cache hit rate by range."""

    RANGE = "ops-performance-range-radio"
    INTERVAL = "ops-performance-refresh-interval"
    MESSAGE = "ops-performance-message-alert"
    ENDPOINTS_GRAPH = "ops-performance-endpoints-graph"
    CALLBACKS_GRAPH = "ops-performance-callbacks-graph"
    THROUGHPUT_GRAPH = "ops-performance-throughput-graph"
    ERRORS_GRAPH = "ops-performance-errors-graph"
    LATENCY_GRAPH = "ops-performance-latency-graph"
    CACHE_GRAPH = "ops-performance-cache-graph"


class OpsLogs:
    """/ops/logs: filters, live tail, volume chart; the lines use the shared data grid."""

    GRID_NAME = "ops-logs"
    LEVEL = "ops-logs-level-dropdown"
    LOGGER = "ops-logs-logger-dropdown"
    RANGE = "ops-logs-range-dropdown"
    START = "ops-logs-start-input"
    END = "ops-logs-end-input"
    SEARCH = "ops-logs-search-input"
    LIVE = "ops-logs-live-switch"
    INTERVAL = "ops-logs-tail-interval"
    TICK_STORE = "ops-logs-tick-store"
    TAIL_STORE = "ops-logs-tail-store"
    NOTICE = "ops-logs-notice-alert"
    SUMMARY = "ops-logs-summary-text"
    CAPTURE_STATUS = "ops-logs-capture-status-text"
    VOLUME_GRAPH = "ops-logs-volume-graph"
    VOLUME_MESSAGE = "ops-logs-volume-message"


class AdminJobs:
    """/admin/jobs: scheduler leader, every job with its last and next run, recent runs."""

    LEADER = "admin-jobs-leader-card"
    MESSAGE = "admin-jobs-message-alert"
    JOBS_TABLE = "admin-jobs-jobs-table"
    RUNS_TABLE = "admin-jobs-runs-table"
    INTERVAL = "admin-jobs-refresh-interval"
    RUN_STORE = "admin-jobs-run-store"

    @staticmethod
    def run_button(job: str) -> dict:
        return {"type": "admin-jobs-run-button", "job": job}


class AdminImport:
    """/admin/import: upload a file of one kind, validate or import it, follow progress, errors."""

    GRID_NAME = "admin-import-errors"
    KIND = "admin-import-kind-dropdown"
    HELP = "admin-import-help-table"
    TEMPLATE_CSV = "admin-import-template-csv-button"
    TEMPLATE_XLSX = "admin-import-template-xlsx-button"
    TEMPLATE_DOWNLOAD = "admin-import-template-download"
    UPLOAD = "admin-import-file-upload"
    FILE_INFO = "admin-import-file-text"
    CREATE_MISSING = "admin-import-create-missing-checkbox"
    VALIDATE = "admin-import-validate-button"
    IMPORT = "admin-import-import-button"
    MESSAGE = "admin-import-message-alert"
    RUN_STORE = "admin-import-run-store"
    INTERVAL = "admin-import-progress-interval"
    PROGRESS = "admin-import-progress-bar"
    STATUS = "admin-import-status-text"
    RESULT = "admin-import-result-alert"
    ERRORS = "admin-import-errors-section"
    RECENT = "admin-import-recent-table"


class AdminReference:
    """/admin/reference: sales platforms and product categories: list, add, rename. Each widget
    exists once per kind (``platforms``, ``categories``)."""

    PAGE = "admin-reference-page"

    @staticmethod
    def table(kind: str) -> dict:
        return {"type": "admin-reference-list-table", "kind": kind}

    @staticmethod
    def message(kind: str) -> dict:
        return {"type": "admin-reference-message-alert", "kind": kind}

    @staticmethod
    def add_code(kind: str) -> dict:
        return {"type": "admin-reference-add-code-input", "kind": kind}

    @staticmethod
    def add_name(kind: str) -> dict:
        return {"type": "admin-reference-add-name-input", "kind": kind}

    @staticmethod
    def add_button(kind: str) -> dict:
        return {"type": "admin-reference-add-button", "kind": kind}

    @staticmethod
    def rename_code(kind: str) -> dict:
        return {"type": "admin-reference-rename-code-select", "kind": kind}

    @staticmethod
    def rename_name(kind: str) -> dict:
        return {"type": "admin-reference-rename-name-input", "kind": kind}

    @staticmethod
    def rename_button(kind: str) -> dict:
        return {"type": "admin-reference-rename-button", "kind": kind}


class AdminSettings:
    """/admin/settings: business thresholds with validation."""

    SAVE = "admin-settings-save-button"
    MESSAGE = "admin-settings-message-alert"
    TABLE = "admin-settings-table"

    @staticmethod
    def input(key: str) -> dict:
        return {"type": "admin-settings-input", "key": key}

    @staticmethod
    def feedback(key: str) -> dict:
        return {"type": "admin-settings-feedback", "key": key}


class AdminIntegrations:
    """/admin/integrations: monitored HTTP services and external channel sources."""

    SERVICES_TABLE = "admin-integrations-services-table"
    SERVICES_VERSION_STORE = "admin-integrations-services-version-store"
    SERVICE_MESSAGE = "admin-integrations-service-message-alert"
    SERVICE_EDIT_STORE = "admin-integrations-service-edit-store"
    SERVICE_FORM_TITLE = "admin-integrations-service-form-title"
    SERVICE_SAVE = "admin-integrations-service-save-button"
    SERVICE_NEW = "admin-integrations-service-new-button"
    DELETE_MODAL = "admin-integrations-delete-modal"
    DELETE_TEXT = "admin-integrations-delete-text"
    DELETE_CONFIRM = "admin-integrations-delete-confirm-button"
    DELETE_CANCEL = "admin-integrations-delete-cancel-button"
    DELETE_STORE = "admin-integrations-delete-store"
    CHANNELS_TABLE = "admin-integrations-channels-table"
    CHANNELS_VERSION_STORE = "admin-integrations-channels-version-store"
    CHANNEL_MESSAGE = "admin-integrations-channel-message-alert"
    CHANNEL_SAVE = "admin-integrations-channel-save-button"
    CHANNEL_EVENT = "admin-integrations-channel-event-dropdown"

    @staticmethod
    def service_field(field: str) -> dict:
        return {"type": "admin-integrations-service-input", "field": field}

    @staticmethod
    def service_feedback(field: str) -> dict:
        return {"type": "admin-integrations-service-feedback", "field": field}

    @staticmethod
    def service_check(name: str) -> dict:
        return {"type": "admin-integrations-service-check-button", "index": name}

    @staticmethod
    def service_result(name: str) -> dict:
        return {"type": "admin-integrations-service-result", "index": name}

    @staticmethod
    def service_edit(service_id: int) -> dict:
        return {"type": "admin-integrations-service-edit-button", "index": service_id}

    @staticmethod
    def service_toggle(service_id: int) -> dict:
        return {"type": "admin-integrations-service-toggle-button", "index": service_id}

    @staticmethod
    def service_delete(service_id: int) -> dict:
        return {"type": "admin-integrations-service-delete-button", "index": service_id}

    @staticmethod
    def channel_field(field: str) -> dict:
        return {"type": "admin-integrations-channel-input", "field": field}

    @staticmethod
    def channel_feedback(field: str) -> dict:
        return {"type": "admin-integrations-channel-feedback", "field": field}

    @staticmethod
    def channel_edit(channel: str) -> dict:
        return {"type": "admin-integrations-channel-edit-button", "index": channel}

    @staticmethod
    def channel_test(channel: str) -> dict:
        return {"type": "admin-integrations-channel-test-button", "index": channel}

    @staticmethod
    def channel_result(channel: str) -> dict:
        return {"type": "admin-integrations-channel-result", "index": channel}


class OpsAlerts:
    """/ops/alerts: open alerts, an alert's detail and actions, history (helper ui-alerts)."""

    PAGE = "ops-alerts-page"
    SEVERITY = "ops-alerts-severity-dropdown"
    STATE = "ops-alerts-state-dropdown"
    RANGE = "ops-alerts-range-dropdown"
    NOTICE = "ops-alerts-notice-alert"
    RULE_ERRORS = "ops-alerts-rule-errors-alert"
    INTERVAL = "ops-alerts-refresh-interval"
    VISIBILITY_DUMMY = "ops-alerts-visibility-dummy"
    URL_DUMMY = "ops-alerts-url-dummy"
    GRID = "ops-alerts-grid"
    SUMMARY = "ops-alerts-summary-text"
    LIST_MESSAGE = "ops-alerts-list-message"
    SELECTED_STORE = "ops-alerts-selected-store"
    ACTION_STORE = "ops-alerts-action-store"
    DETAIL = "ops-alerts-detail-card"
    ACTIONS = "ops-alerts-actions-panel"
    COMMENT = "ops-alerts-comment-textarea"
    ACTION_MESSAGE = "ops-alerts-action-message"
    HISTORY_GRAPH = "ops-alerts-history-graph"
    HISTORY_MESSAGE = "ops-alerts-history-message"
    MTTA = "ops-alerts-mtta-text"
    MTTR = "ops-alerts-mttr-text"
    FIRED = "ops-alerts-fired-text"
    RESOLVED_TABLE = "ops-alerts-resolved-table"
    DETAIL_TITLE = "ops-alerts-detail-title"
    DETAIL_STATE = "ops-alerts-detail-state"
    METRIC_GRAPH = "ops-alerts-metric-graph"
    EVENTS = "ops-alerts-events-table"

    @staticmethod
    def action(name: str) -> dict:
        """An action button: acknowledge, resolve, ignore or comment (pattern-matching, so a
        viewer's page, which has none, needs no placeholders)."""
        return {"type": "ops-alerts-action-button", "action": name}

    @staticmethod
    def nav_tab(key: str) -> str:
        """A tab of the alert center's tab bar (components/alerts_nav.py)."""
        return f"alerts-nav-{key}"


class OpsAlertRules:
    """/ops/alerts/rules: the rules editor with its backtest (helper ui-admin)."""

    PAGE = "ops-alert-rules-page"
    GRID = "ops-alert-rules-grid"
    MESSAGE = "ops-alert-rules-message-alert"
    FORM_TITLE = "ops-alert-rules-form-title"
    FORM_MESSAGE = "ops-alert-rules-form-message-alert"
    EDIT_STORE = "ops-alert-rules-edit-store"
    VERSION_STORE = "ops-alert-rules-version-store"
    NEW = "ops-alert-rules-new-button"
    BACKTEST = "ops-alert-rules-backtest-button"
    SAVE = "ops-alert-rules-save-button"
    DELETE = "ops-alert-rules-delete-button"
    DELETE_MODAL = "ops-alert-rules-delete-modal"
    DELETE_TEXT = "ops-alert-rules-delete-text"
    DELETE_CONFIRM = "ops-alert-rules-delete-confirm-button"
    DELETE_CANCEL = "ops-alert-rules-delete-cancel-button"
    METRIC_LABEL = "ops-alert-rules-metric-label"
    BACKTEST_GRAPH = "ops-alert-rules-backtest-graph"
    BACKTEST_TEXT = "ops-alert-rules-backtest-text"

    @staticmethod
    def field(name: str) -> dict:
        return {"type": "ops-alert-rules-input", "field": name}

    @staticmethod
    def feedback(name: str) -> dict:
        return {"type": "ops-alert-rules-feedback", "field": name}

    @staticmethod
    def section(kind: str) -> dict:
        """The fields only some rule types have (``kind``: a group of fields)."""
        return {"type": "ops-alert-rules-section", "kind": kind}


class OpsAlertSilences:
    """/ops/alerts/silences (helper ui-admin)."""

    PAGE = "ops-alert-silences-page"
    TABLE = "ops-alert-silences-table"
    MESSAGE = "ops-alert-silences-message-alert"
    VERSION_STORE = "ops-alert-silences-version-store"
    MATCHERS = "ops-alert-silences-matchers-input"
    START = "ops-alert-silences-start-input"
    END = "ops-alert-silences-end-input"
    REASON = "ops-alert-silences-reason-input"
    CREATE = "ops-alert-silences-create-button"

    @staticmethod
    def expire(silence_id: int) -> dict:
        return {"type": "ops-alert-silences-expire-button", "index": silence_id}


class OpsAlertChannels:
    """/ops/alerts/channels: channels, their delivery log, a test message (helper ui-admin)."""

    PAGE = "ops-alert-channels-page"
    TABLE = "ops-alert-channels-table"
    MESSAGE = "ops-alert-channels-message-alert"
    VERSION_STORE = "ops-alert-channels-version-store"
    EDIT_STORE = "ops-alert-channels-edit-store"
    FORM_TITLE = "ops-alert-channels-form-title"
    SECRET_LABEL = "ops-alert-channels-secret-label"
    SECRET_HELP = "ops-alert-channels-secret-help"
    NEW = "ops-alert-channels-new-button"
    SAVE = "ops-alert-channels-save-button"
    DELETE = "ops-alert-channels-delete-button"
    DELETE_MODAL = "ops-alert-channels-delete-modal"
    DELETE_TEXT = "ops-alert-channels-delete-text"
    DELETE_CONFIRM = "ops-alert-channels-delete-confirm-button"
    DELETE_CANCEL = "ops-alert-channels-delete-cancel-button"
    LOG_CHANNEL = "ops-alert-channels-log-channel-dropdown"
    LOG_GRID = "ops-alert-channels-log-grid"

    @staticmethod
    def field(name: str) -> dict:
        return {"type": "ops-alert-channels-input", "field": name}

    @staticmethod
    def feedback(name: str) -> dict:
        return {"type": "ops-alert-channels-feedback", "field": name}

    @staticmethod
    def section(kind: str) -> dict:
        return {"type": "ops-alert-channels-section", "kind": kind}

    @staticmethod
    def edit(channel_id: int) -> dict:
        return {"type": "ops-alert-channels-edit-button", "index": channel_id}

    @staticmethod
    def test(channel_id: int) -> dict:
        return {"type": "ops-alert-channels-test-button", "index": channel_id}

    @staticmethod
    def result(channel_id: int) -> dict:
        return {"type": "ops-alert-channels-test-result", "index": channel_id}

    @staticmethod
    def health(channel_id: int) -> dict:
        """The cells of a channel's delivery health (failures, last success, last error)."""
        return {"type": "ops-alert-channels-health", "index": channel_id}


class Treasury:
    """/treasury: balances by tier, flow of funds, volumes, counterparties (helper treasury)."""

    PAGE = "treasury-page"
    DATE_RANGE = "treasury-window-daterange"
    NOTICE = "treasury-window-notice"
    URL_DUMMY = "treasury-window-url-dummy"
    CURRENCY_STORE = "treasury-currency-store"
    KPI_ROW = "treasury-kpi-row"
    RECOMMENDATIONS = "treasury-recommendations-list"
    FLOW_MESSAGE = "treasury-flow-message"
    FLOW_GRAPH = "treasury-flow-graph"
    VOLUME_MESSAGE = "treasury-volume-message"
    VOLUME_GRAPH = "treasury-volume-graph"
    PATTERN = "treasury-pattern-text"
    GRID_NAME = "treasury-counterparties"
    GRID_MESSAGE = "treasury-counterparties-message"
    FINDINGS_GRID_NAME = "treasury-findings"
    FINDINGS_MESSAGE = "treasury-findings-message"

    @staticmethod
    def kpi_card(index: str) -> dict:
        """One KPI card: ``total``, a tier, ``inflow``, ``outflow``, ``net``, ``withdrawals``."""
        return {"type": "treasury-kpi-card", "index": index}


class TreasuryCapacity:
    """/treasury: the capacity gauge of a consumable resource."""

    CARD = "treasury-capacity-card"
    MESSAGE = "treasury-capacity-message"
    GAUGE = "treasury-capacity-gauge"
    FACTS = "treasury-capacity-facts-list"
    GRAPH = "treasury-capacity-graph"
    INTERVAL = "treasury-capacity-interval"


class AttendanceForecast:
    """The attendance forecast: its form on /events and its card on a planned event's page."""

    STARTS = "events-forecast-starts-input"
    KIND = "events-forecast-kind-select"
    DURATION = "events-forecast-duration-input"
    CAPACITY = "events-forecast-capacity-input"
    FEE = "events-forecast-fee-input"
    ONLINE = "events-forecast-online-switch"
    CHANNELS = "events-forecast-channels-input"
    INCENTIVES = "events-forecast-incentives-checklist"
    ORGANIZER = "events-forecast-organizer-select"
    NOTICE = "events-forecast-notice-input"
    SUBMIT = "events-forecast-submit-button"
    RESULT = "events-forecast-result"
    EVENT_STORE = "event-detail-forecast-store"
    EVENT_RESULT = "event-detail-forecast-result"


class AdminModels:
    """/admin/models: the model registry's versions, retrain and roll back."""

    PAGE = "admin-models-page"
    MESSAGE = "admin-models-message-alert"
    CONTENT = "admin-models-content"
    INTERVAL = "admin-models-refresh-interval"
    RUN_STORE = "admin-models-run-store"
    PENDING_STORE = "admin-models-pending-store"
    DONE_STORE = "admin-models-done-store"
    CONFIRM_MODAL = "admin-models-confirm-modal"
    CONFIRM_TEXT = "admin-models-confirm-text"
    CONFIRM_CANCEL = "admin-models-confirm-cancel-button"
    CONFIRM_OK = "admin-models-confirm-ok-button"

    @staticmethod
    def retrain_button(model: str) -> dict:
        return {"type": "admin-models-retrain-button", "model": model}

    @staticmethod
    def rollback_button(model: str, version: int) -> dict:
        return {"type": "admin-models-rollback-button", "model": model, "version": version}


class Forecasts:
    """/forecasts: stored Prophet forecasts, their quality and insights (helper forecasts)."""

    PAGE = "forecasts-page"
    NOTICE = "forecasts-query-notice"
    SERIES = "forecasts-series-radio"
    HORIZON = "forecasts-horizon-radio"
    URL_DUMMY = "forecasts-url-dummy"
    GRAPH = "forecasts-forecast-graph"
    MESSAGE = "forecasts-forecast-message"
    QUALITY = "forecasts-quality-card"
    INSIGHTS = "forecasts-insights-list"
    FITTED = "forecasts-fitted-text"
    PLATFORM = "forecasts-platform-dropdown"
    CATEGORY = "forecasts-category-dropdown"
    DEVIATIONS = "forecasts-deviations-table"
    REFIT = "forecasts-refit-button"
    REFIT_RUN_STORE = "forecasts-refit-run-store"
    REFIT_POLL = "forecasts-refit-interval"
    REFIT_MESSAGE = "forecasts-refit-alert"
    REFRESH_STORE = "forecasts-refresh-store"


class Reports:
    """/reports: generate a report in the background, preview it, download it, its history."""

    PAGE = "reports-page"
    KIND = "reports-kind-radio"
    RANGE = "reports-range-datepicker"
    RANGE_ROW = "reports-range-row"
    SECTIONS = "reports-sections-checklist"
    FORMAT = "reports-format-radio"
    LOCALE = "reports-locale-dropdown"
    GENERATE = "reports-generate-button"
    MESSAGE = "reports-message-alert"
    PROGRESS = "reports-progress-bar"
    PROGRESS_TEXT = "reports-progress-text"
    PROGRESS_ROW = "reports-progress-row"
    POLL = "reports-poll-interval"
    RUN_STORE = "reports-run-store"
    REFRESH_STORE = "reports-refresh-store"
    PREVIEW = "reports-preview-card"
    HISTORY = "reports-history-table"
    PENDING_STORE = "reports-pending-delete-store"
    DELETE_MODAL = "reports-delete-modal"
    DELETE_TEXT = "reports-delete-text"
    DELETE_CANCEL = "reports-delete-cancel-button"
    DELETE_CONFIRM = "reports-delete-confirm-button"

    @staticmethod
    def delete_button(run_id: int) -> dict:
        return {"type": "reports-delete-button", "run": run_id}


class ReportSchedules:
    """/reports, its Schedules card: reports made on a cron and e-mailed (admins edit them)."""

    CARD = "report-schedules-card"
    TABLE = "report-schedules-table"
    NEW = "report-schedules-new-button"
    MESSAGE = "report-schedules-message-alert"
    POLL = "report-schedules-poll-interval"
    REFRESH_STORE = "report-schedules-refresh-store"
    EDIT_STORE = "report-schedules-edit-store"
    FORM_MODAL = "report-schedules-form-modal"
    FORM_TITLE = "report-schedules-form-title"
    NAME = "report-schedules-name-input"
    PRESET = "report-schedules-preset-dropdown"
    CRON = "report-schedules-cron-input"
    CRON_ROW = "report-schedules-cron-row"
    PREVIEW = "report-schedules-preview"
    KIND = "report-schedules-kind-radio"
    SECTIONS = "report-schedules-sections-checklist"
    FORMAT = "report-schedules-format-radio"
    LOCALE = "report-schedules-locale-dropdown"
    CHANNEL = "report-schedules-channel-dropdown"
    CHANNEL_NOTE = "report-schedules-channel-note"
    RECIPIENTS = "report-schedules-recipients-input"
    ENABLED = "report-schedules-enabled-switch"
    FORM_ERROR = "report-schedules-form-error-alert"
    SAVE = "report-schedules-save-button"
    CANCEL = "report-schedules-cancel-button"
    PENDING_STORE = "report-schedules-pending-delete-store"
    DELETE_MODAL = "report-schedules-delete-modal"
    DELETE_TEXT = "report-schedules-delete-text"
    DELETE_CANCEL = "report-schedules-delete-cancel-button"
    DELETE_CONFIRM = "report-schedules-delete-confirm-button"

    @staticmethod
    def toggle_button(schedule_id: int, action: str) -> dict:
        """Pause (``action`` "pause") or resume ("resume") one schedule."""
        return {"type": "report-schedules-toggle-button", "schedule": schedule_id, "action": action}

    @staticmethod
    def run_button(schedule_id: int) -> dict:
        return {"type": "report-schedules-run-button", "schedule": schedule_id}

    @staticmethod
    def edit_button(schedule_id: int) -> dict:
        return {"type": "report-schedules-edit-button", "schedule": schedule_id}

    @staticmethod
    def delete_button(schedule_id: int) -> dict:
        return {"type": "report-schedules-delete-button", "schedule": schedule_id}
