//! The CloudWatch dashboard template (`dashboards/cloudwatch.json`) and its parameters.

/// The template, with `${FunctionName}`, `${ApiName}`, `${Stage}`, `${Region}`, `${Namespace}`
/// and `${Service}` placeholders. Compiled in, so `dashboards render` needs no file at run time.
pub const CLOUDWATCH_TEMPLATE: &str = include_str!("../../dashboards/cloudwatch.json");

/// The Grafana dashboard for the Prometheus metrics of `authorizer serve`.
pub const GRAFANA_DASHBOARD: &str = include_str!("../../dashboards/grafana.json");

/// What the CloudWatch dashboard is drawn for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardParams {
    /// The authorizer's Lambda function name (AWS/Lambda `FunctionName`, and its log group).
    pub function: String,
    /// The REST API's name (AWS/ApiGateway `ApiName`).
    pub api: String,
    /// The API stage (AWS/ApiGateway `Stage`).
    pub stage: String,
    /// The region the widgets read from.
    pub region: String,
    /// The EMF namespace (`METRICS_NAMESPACE`).
    pub namespace: String,
    /// The `service` dimension (`METRICS_SERVICE`, by default the function name).
    pub service: String,
}

/// A parameter that cannot be put in the dashboard.
#[derive(Debug, thiserror::Error)]
#[error("--{parameter} {value:?}: {problem}")]
pub struct DashboardError {
    /// The parameter (its command-line name).
    pub parameter: &'static str,
    /// The value given.
    pub value: String,
    /// Why it is refused.
    pub problem: &'static str,
}

/// The dashboard body for PutDashboard: the template with every placeholder replaced.
///
/// # Errors
/// A parameter that is empty, over 1024 characters, or holds a quote, a backslash or a control
/// character (the values also land inside `SEARCH('…')` expressions and Logs Insights queries,
/// where such characters would change their meaning).
pub fn render_cloudwatch_dashboard(params: &DashboardParams) -> Result<String, DashboardError> {
    let substitutions = [
        ("function", "${FunctionName}", &params.function),
        ("api", "${ApiName}", &params.api),
        ("stage", "${Stage}", &params.stage),
        ("region", "${Region}", &params.region),
        ("namespace", "${Namespace}", &params.namespace),
        ("service", "${Service}", &params.service),
    ];
    let mut body = CLOUDWATCH_TEMPLATE.to_owned();
    for (parameter, placeholder, value) in substitutions {
        let refuse = |problem| DashboardError {
            parameter,
            value: value.to_string(),
            problem,
        };
        if value.is_empty() || value.chars().count() > 1024 {
            return Err(refuse("give 1 to 1024 characters"));
        }
        if value
            .chars()
            .any(|c| c.is_control() || matches!(c, '"' | '\'' | '\\'))
        {
            return Err(refuse(
                "quotes, backslashes and control characters are not allowed",
            ));
        }
        body = body.replace(placeholder, value);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> DashboardParams {
        DashboardParams {
            function: "authorizer".into(),
            api: "PetStore".into(),
            stage: "prod".into(),
            region: "eu-west-1".into(),
            namespace: "JwtAuthorizer".into(),
            service: "authorizer".into(),
        }
    }

    #[test]
    fn the_rendered_body_is_json_with_no_placeholder_left() {
        let body = render_cloudwatch_dashboard(&params()).unwrap();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(json["widgets"].as_array().is_some_and(|w| !w.is_empty()));
        assert!(!body.contains("${"), "{body}");
    }

    #[test]
    fn quotes_are_refused_not_injected() {
        let mut p = params();
        p.service = "x\" MetricName=\"other".into();
        let error = render_cloudwatch_dashboard(&p).unwrap_err();
        assert_eq!(error.parameter, "service");
        p = params();
        p.api = String::new();
        assert_eq!(
            render_cloudwatch_dashboard(&p).unwrap_err().parameter,
            "api"
        );
    }
}
