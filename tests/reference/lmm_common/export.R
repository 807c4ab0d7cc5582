# Shared by the lmm_* reference cases: fit each model with lme4 and write
# everything the Python tests compare against to lme4_output.json, and what R
# printed to lme4_summary.txt.
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
})

export_fit <- function(m, name, formula_py) {
  vc <- as.data.frame(VarCorr(m))
  re <- as.data.frame(ranef(m))
  sm <- summary(m)
  cf <- coef(sm)
  list(
    name = name,
    formula_r = deparse(formula(m), width.cutoff = 500L),
    formula_py = formula_py,
    reml = isREML(m),
    nobs = nobs(m),
    ngrps = as.list(ngrps(m)),
    fixef = as.list(fixef(m)),
    se = as.list(sqrt(diag(as.matrix(vcov(m))))),
    vcov = unname(as.matrix(vcov(m))),
    vcov_names = colnames(vcov(m)),
    theta = as.list(getME(m, "theta")),
    sigma = sigma(m),
    varcorr = vc,
    reml_criterion = if (isREML(m)) REMLcrit(m) else NULL,
    deviance = if (!isREML(m)) deviance(m) else NULL,
    loglik = as.numeric(logLik(m)),
    singular = isSingular(m),
    satterthwaite_df = as.list(setNames(cf[, "df"], rownames(cf))),
    ranef = re,
    optimizer = m@optinfo$optimizer,
    optimizer_messages = c(m@optinfo$conv$lme4$messages, m@optinfo$message)
  )
}

write_case <- function(fits, summaries) {
  out <- list(
    R_version = R.version.string,
    lme4_version = as.character(packageVersion("lme4")),
    lmerTest_version = as.character(packageVersion("lmerTest")),
    models = fits
  )
  writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), "lme4_output.json")
  writeLines(unlist(summaries), "lme4_summary.txt")
}

fit_all <- function(specs, data) {
  fits <- list()
  summaries <- list()
  for (s in specs) {
    m <- lmer(as.formula(s$formula_r), data = data, REML = s$reml)
    fits[[length(fits) + 1]] <- export_fit(m, s$name, s$formula_py)
    summaries[[length(summaries) + 1]] <- c(paste("###", s$name), capture.output(print(summary(m))), "")
  }
  write_case(fits, summaries)
}
