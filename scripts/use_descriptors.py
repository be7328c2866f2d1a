"""Writes ontology/catalogues/use-descriptors.ttl and docs/classification.md from the tables below:
the closed lists of `ai_systems[].uses` (with their VAIR alignment) and the descriptor conditions
that derive each Annex III point and Art 5(1) practice. Run from the checkout after editing:

    python scripts/use_descriptors.py

Summaries are our own words, never the Act's text. A condition holds for one use when, for every
dimension it names, the use has at least one of the listed values (docs/classification.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from aimsgraph.schema import (USE_CAPABILITIES, USE_CONTEXTS, USE_DOMAINS,  # noqa: E402
                              USE_PURPOSES, USE_SUBJECTS)

SCHEMES = {"domain": "domains", "purpose": "purposes", "capability": "capabilities", "subject": "subjects",
           "context": "contexts"}
DIMENSIONS = {  # dimension -> (register key, scheme label, AIRO property it maps from)
    "domain": ("domain", "domains", "airo:isAppliedWithinDomain"),
    "purpose": ("purpose", "purposes", "airo:hasPurpose"),
    "capability": ("capabilities", "AI capabilities", "airo:hasCapability"),
    "subject": ("subjects", "AI subjects", "airo:hasAISubject"),
    "context": ("context", "deployment contexts", "airo:isDeployedBy"),
}

# value -> (summary, exact VAIR match or None, narrower VAIR terms)
TERMS: dict[str, dict[str, tuple[str, str | None, tuple[str, ...]]]] = {
    "domain": {
        "biometrics": ("Identifying, categorising or reading natural persons from their biometric data.", None, ()),
        "critical-infrastructure": ("Critical digital infrastructure, road traffic and the supply of water, gas, heating or electricity.", "CriticalInfrastructure", ()),
        "education": ("Education and vocational training at any level.", "Education", ()),
        "employment": ("Employment, management of workers and access to self-employment.", "Employment", ()),
        "public-services": ("Essential public services and benefits.", "PublicService", ()),
        "private-services": ("Essential private services such as credit or insurance.", "PrivateService", ()),
        "health": ("Health and health care.", "Health", ()),
        "law-enforcement": ("Law enforcement: preventing, investigating, detecting or prosecuting criminal offences.", "LawEnforcement", ()),
        "migration-asylum-border": ("Migration, asylum and border control management.", None, ("MigrationManagement", "AsylumManagement", "BorderControlManagement")),
        "justice": ("Administration of justice, including alternative dispute resolution.", "AdministrationOfJustice", ()),
        "democratic-processes": ("Elections, referendums and other democratic processes.", "AdministrationOfDemocraticProcesses", ()),
        "marketing": ("Marketing, advertising and sales.", None, ()),
        "media": ("Media, entertainment and publishing.", None, ()),
        "general": ("No particular sector.", None, ()),
    },
    "purpose": {
        "remote-identification": ("Identifying people at a distance, without their active involvement, by comparing their biometric data with a reference database.", "RemoteIdentification", ()),
        "categorising-by-protected-attributes": ("Sorting people into categories by sensitive or protected attributes inferred from their data.", None, ("Categorisation",)),
        "inferring-special-categories": ("Deducing race, political opinions, trade union membership, religious or philosophical beliefs, sex life or sexual orientation.", None, ()),
        "recognising-emotions": ("Identifying or inferring emotions or intentions of people.", "RecognisingEmotions", ("DetectingEmotionalState",)),
        "safety-component": ("Serving as a safety component in managing or operating critical infrastructure.", "ServingSafetyFunction", ("ServingSafetyFunctionInOperationOfCriticalDigitalInfrastructure", "ServingSafetyFunctionInManagementOfCriticalDigitalInfrastructure", "ServingSafetyFunctionInOperationOfRoadTraffic", "ServingSafetyFunctionInManagementOfRoadTraffic", "ServingSafetyFunctionInOperationOfTheSupplyOfWater", "ServingSafetyFunctionInManagementOfTheSupplyOfWater", "ServingSafetyFunctionInOperationOfTheSupplyOfGas", "ServingSafetyFunctionInManagementOfTheSupplyOfGas", "ServingSafetyFunctionInOperationOfTheSupplyOfHeating", "ServingSafetyFunctionInManagementOfTheSupplyOfHeating", "ServingSafetyFunctionInOperationOfTheSupplyOfElectricity", "ServingSafetyFunctionInManagementOfTheSupplyOfElectricity")),
        "education-access-admission": ("Deciding who gets access to, is admitted to or is assigned to an education or training institution.", None, ("DeterminingAccessToEducationalInstitutions", "DeterminingAccessToVocationalTrainingInstitutions", "DeterminingAdmissionToEducationalInstitutions", "DeterminingAdmissionToVocationalTrainingInstitutions", "AssigningPersonsToEducationalInstitutions", "AssigningPersonsToVocationalTrainingInstitutions")),
        "evaluating-learning-outcomes": ("Evaluating what learners achieved, including to steer their learning.", "EvaluatingLearningOutcomes", ()),
        "assessing-education-level": ("Assessing the level of education a person will receive or can access.", None, ("AssessingLevelOfEducation", "AssessingAccessibleLevelOfEducation")),
        "monitoring-test-behaviour": ("Monitoring and detecting prohibited behaviour of students during tests.", None, ("MonitoringProhibitedBehaviourDuringTest", "DetectingProhibitedBehaviourDuringTest")),
        "recruitment-selection": ("Recruiting or selecting people: targeted job adverts, screening or filtering applications, evaluating candidates.", None, ("Recruiting", "JobCandidateSelection", "PlacingTargetedJobAdvert", "JobApplicationAnalysis", "JobApplicationScreening", "JobApplicationFiltering", "EvaluatingJobInterview", "EvaluatingJobCandidates")),
        "work-relationship-decisions": ("Deciding on terms of work, promotion, termination, or allocating tasks from behaviour or personal traits.", None, ("MakingPromotionDecision", "MakingContractTerminationDecision", "AllocatingTasks")),
        "worker-monitoring": ("Monitoring and evaluating the performance and behaviour of workers.", None, ("MonitoringEmployeePerformance", "MonitoringEmployeeBehaviour")),
        "public-assistance-eligibility": ("Evaluating eligibility for public assistance benefits and services, or granting, reducing, revoking or reclaiming them.", None, ("EvaluatingEligibilityForPublicAssistanceServices", "GrantingPublicAssistanceServices", "RevokingPublicAssistanceServices", "ReclaimingPublicAssistanceServices", "ReducingPublicAssistanceServices", "EvaluatingEligibilityforHealthCareServices")),
        "creditworthiness": ("Evaluating the creditworthiness of natural persons or establishing their credit score.", None, ("AssessingCreditworthiness", "DeterminingCreditScore")),
        "life-health-insurance-pricing": ("Risk assessment and pricing for natural persons in life and health insurance.", None, ("HealthInsuranceRiskAssessment", "HealthInsurancePricing", "LifeInsuranceRiskAssessment", "LifeInsurancePricing")),
        "emergency-response": ("Evaluating and classifying emergency calls, dispatching or prioritising emergency services, emergency patient triage.", None, ("EvaluatingEmergencyCall", "ClassifyingEmergencyCall", "DispatchingEmergencyService", "PrioritisationOfEmergencyService", "EmergencyTriage", "EmergancyTriage")),
        "victim-risk-assessment": ("Assessing the risk that a person becomes the victim of a criminal offence.", "AssessingRiskOfBecomingVictimOfCrime", ()),
        "detecting-lies": ("Detecting deception, as a polygraph or similar tool.", "DetectingLies", ()),
        "evidence-reliability": ("Evaluating how reliable evidence is in investigating or prosecuting offences.", None, ("EvaluatingReliabilityOfEvidenceInInvestigationOfCriminalOffences", "EvaluatingReliabilityOfEvidenceInProsecutionOfCriminalOffences")),
        "offending-risk-assessment": ("Assessing the risk that a person offends or re-offends, or assessing personality traits or past criminal behaviour.", None, ("AssessingRiskOfOffending", "AssessingRiskOfReoffending", "AssessingPersonalityTraits", "AssessingPastCriminalBehaviour")),
        "crime-detection-investigation": ("Detecting, investigating or prosecuting criminal offences.", None, ("DetectingCriminalOffences", "InvestigatingCriminalOffences", "ProsecutingCriminalOffences")),
        "crime-prediction": ("Predicting that a person will commit a criminal offence.", None, ("PredictingOccurrenceOfCriminalOffence", "PredictingReoccurrenceOfCriminalOffence")),
        "migration-risk-assessment": ("Assessing security, irregular-migration or health risks posed by people entering or intending to enter a state.", None, ("AssessingPeopleRelatedRisk", "AssessingRiskOfIrregularImmigration", "AssessingSecurityRisk", "AssessingHealthRisk")),
        "migration-application-examination": ("Examining asylum, visa or residence permit applications and related complaints, including the reliability of evidence.", None, ("ExaminingAsylumApplication", "ExaminingVisaApplication", "ExaminingResidencePermitsApplication", "ExaminingMigrationRelatedComplaints", "EvaluatingReliabilityOfEvidenceInMigrationRelatedApplications")),
        "person-identification": ("Detecting, recognising or identifying natural persons.", None, ("IdentiftyingIndividuals", "RecognisingIndividuals", "DetectingIndividuals")),
        "legal-research-application": ("Researching and interpreting facts and the law and applying the law to facts, including in dispute resolution.", None, ("ResearchingFacts", "ApplyingTheLawToFacts", "ResearchingLaw", "InterpretingFacts", "InterpretingLaw", "SettlingDispute")),
        "influencing-elections": ("Influencing the outcome of an election or referendum, or how people vote.", None, ("InfluencingElectionOutcome", "InfluencingVotingBehaviour")),
        "behaviour-distortion": ("Materially distorting people's behaviour so that they take decisions they would not otherwise take, in a way likely to cause significant harm.", None, ()),
        "social-scoring": ("Scoring or classifying people over time by their social behaviour or personal traits, leading to detrimental or unfavourable treatment.", "SocialScoring", ()),
        "facial-database-building": ("Creating or expanding facial recognition databases.", None, ()),
        "intimate-imagery-generation": ("Generating or manipulating intimate images, video or audio of an identifiable person without consent.", None, ()),
        "child-sexual-abuse-material": ("Generating or manipulating child sexual abuse material.", None, ()),
        "identity-verification": ("Confirming that a person is who they claim to be (one-to-one verification).", None, ()),
        "travel-document-verification": ("Verifying travel documents.", "VerifyingAuthenticityOfTravelDocument", ()),
        "fraud-detection": ("Detecting financial fraud.", None, ()),
        "campaign-logistics": ("Organising, optimising or structuring political campaigns administratively or logistically, without reaching voters directly.", None, ()),
        "medical-or-safety": ("Medical or safety reasons (e.g. detecting fatigue of a pilot or driver).", None, ()),
        "other-insurance-pricing": ("Insurance risk assessment and pricing outside life and health insurance.", None, ()),
        "scheduling": ("Planning rotas, timetables or resources.", None, ()),
        "customer-support": ("Answering customers' questions.", None, ()),
        "recommendation": ("Recommending content, products or actions.", None, ("ProducingRecommendation",)),
        "content-generation": ("Generating text, images, audio or video.", "ContentGeneration", ()),
        "forecasting": ("Forecasting quantities such as demand or load.", None, ()),
        "translation": ("Translating text or speech.", None, ()),
        "document-processing": ("Extracting, classifying or summarising documents.", None, ()),
        "quality-control": ("Inspecting products or processes for defects.", None, ()),
    },
    "capability": {
        "biometric-identification": ("Identifying people from their biometric data.", "BiometricIdentification", ()),
        "real-time-remote-biometric-identification": ("Remote biometric identification with capture, comparison and identification without significant delay.", "RealTimeRemoteBiometricIdentification", ()),
        "biometric-categorisation": ("Assigning people to categories from their biometric data.", "BiometricCategorisation", ()),
        "sensitive-attribute-inference": ("Inferring sensitive attributes of people.", "SensitiveAttributeInference", ()),
        "emotion-recognition": ("Inferring emotions or intentions from biometric data.", "EmotionRecognition", ("BiometricsBasedEmotionRecognition",)),
        "face-recognition": ("Recognising faces.", "FaceRecognition", ()),
        "lie-detection": ("Detecting deception.", "LieDetection", ()),
        "profiling": ("Profiling natural persons: evaluating personal aspects by automated processing of personal data.", "Profiling", ()),
        "subliminal-techniques": ("Subliminal, purposefully manipulative or deceptive techniques.", "SubliminalTechnique", ()),
        "vulnerability-exploitation": ("Exploiting vulnerabilities due to age, disability or a social or economic situation.", "ExploitationOfVulnerability", ()),
        "web-scraping": ("Untargeted scraping of images from the internet or CCTV footage.", "WebScraping", ()),
        "image-video-audio-generation": ("Generating or manipulating images, video or audio.", None, ("GeneratingImageContent", "GeneratingVideoContent", "GeneratingAudioContent")),
        "natural-language-generation": ("Generating text.", "NaturalLanguageGeneration", ()),
        "recommender": ("Recommending items.", "RecommenderSystem", ()),
        "prediction": ("Predicting values or events.", None, ()),
    },
    "subject": {
        "natural-persons": ("Natural persons in general.", "NaturalPerson", ()),
        "children": ("Children.", None, ()),
        "vulnerable-persons": ("People vulnerable because of their age, disability or social or economic situation.", "VulnerablePerson", ("VulnerableGroup",)),
        "persons-with-disabilities": ("Persons with disabilities.", None, ()),
        "students": ("Students and learners.", "Student", ("CourseAttendee",)),
        "job-applicants": ("Job applicants and candidates.", "JobApplicant", ("PotentialJobApplicant", "JobCandidate")),
        "employees": ("Workers and employees.", "Employee", ()),
        "public-service-applicants": ("Applicants for and recipients of public services.", None, ("PublicServicesApplicant", "PotentialPublicServicesApplicant", "PublicServicesRecipient")),
        "migrants": ("Asylum seekers, visa and residence permit applicants, people entering a state.", None, ("AsylumSeeker", "VisaApplicant", "ResidencePermitApplicant", "IndividualIntendsToEnterState", "IndividualEnteredState")),
        "voters": ("Voters.", None, ()),
        "groups": ("Groups of people.", "Group", ()),
        "customers": ("Customers.", None, ()),
    },
    "context": {
        "public-authority": ("Used by or on behalf of a public authority.", "PublicAuthority", ("PublicAuthorityAgent", "NationalPublicAuthority")),
        "law-enforcement-authority": ("Used by or on behalf of a law enforcement authority.", "LawEnforcementAuthority", ("LawEnforcementAuthorityAgent", "Police")),
        "judicial-authority": ("Used by or on behalf of a judicial authority.", "JudicialAuthority", ("JudicialAuthorityAgent",)),
        "eu-institution": ("Used by a Union institution, body, office or agency.", "EUInstitution", ("EUAgency", "EUOffice", "EUBody")),
        "educational-institution": ("Used in an education or vocational training institution.", "EducationalInstitution", ("VocationalTrainingInstitution",)),
        "workplace": ("Used in a workplace.", "Workplace", ()),
        "publicly-accessible-space": ("Used in a publicly accessible space.", "PubliclyAccessibleSpace", ()),
        "emergency-service": ("Used by an emergency service.", "EmergencyServiceProvider", ("EmergencyHealthCareProvider", "FireBrigade", "MedicalAidProvider")),
        "private-company": ("Used by a private company.", None, ()),
    },
}

LE = ("law-enforcement-authority", "eu-institution")
# A law enforcement or judicial authority is a public authority too (Art 3(45)).
MIG = ("public-authority", "law-enforcement-authority", "eu-institution")
ESSENTIAL = ("public-services", "private-services")
# (condition id, target, source, summary, {dimension: values}); the target is an Annex III point
# (annex3-…) or an Art 5(1) practice (art5-1…). Several conditions for one target are alternatives.
CONDITIONS = [
    ("annex3-1a", "annex3-1a", "Annex III, point 1(a)", "Remote biometric identification (not one-to-one verification).",
     {"purpose": ("remote-identification",), "capability": ("biometric-identification", "real-time-remote-biometric-identification", "face-recognition")}),
    ("annex3-1b", "annex3-1b", "Annex III, point 1(b)", "Biometric categorisation by sensitive or protected attributes.",
     {"purpose": ("categorising-by-protected-attributes", "inferring-special-categories"), "capability": ("biometric-categorisation", "sensitive-attribute-inference")}),
    ("annex3-1c", "annex3-1c", "Annex III, point 1(c)", "Emotion recognition.",
     {"purpose": ("recognising-emotions",), "capability": ("emotion-recognition",)}),
    ("annex3-2", "annex3-2", "Annex III, point 2", "Safety component of critical infrastructure.",
     {"domain": ("critical-infrastructure",), "purpose": ("safety-component",)}),
    ("annex3-3a", "annex3-3a", "Annex III, point 3(a)", "Access, admission or assignment to education.",
     {"domain": ("education",), "purpose": ("education-access-admission",)}),
    ("annex3-3b", "annex3-3b", "Annex III, point 3(b)", "Evaluating learning outcomes.",
     {"domain": ("education",), "purpose": ("evaluating-learning-outcomes",)}),
    ("annex3-3c", "annex3-3c", "Annex III, point 3(c)", "Assessing the level of education a person gets.",
     {"domain": ("education",), "purpose": ("assessing-education-level",)}),
    ("annex3-3d", "annex3-3d", "Annex III, point 3(d)", "Monitoring students for prohibited behaviour in tests.",
     {"domain": ("education",), "purpose": ("monitoring-test-behaviour",)}),
    ("annex3-4a", "annex3-4a", "Annex III, point 4(a)", "Recruitment and selection.",
     {"domain": ("employment",), "purpose": ("recruitment-selection",)}),
    ("annex3-4b", "annex3-4b", "Annex III, point 4(b)", "Decisions on work relationships, task allocation, monitoring workers.",
     {"domain": ("employment",), "purpose": ("work-relationship-decisions", "worker-monitoring")}),
    ("annex3-5a", "annex3-5a", "Annex III, point 5(a)", "Public assistance benefits and services, by or for a public authority.",
     {"domain": ("public-services",), "purpose": ("public-assistance-eligibility",), "context": ("public-authority", "law-enforcement-authority", "judicial-authority")}),
    ("annex3-5b", "annex3-5b", "Annex III, point 5(b)", "Creditworthiness or credit score of natural persons (not fraud detection).",
     {"domain": ESSENTIAL, "purpose": ("creditworthiness",)}),
    ("annex3-5c", "annex3-5c", "Annex III, point 5(c)", "Life and health insurance risk and pricing.",
     {"domain": ESSENTIAL, "purpose": ("life-health-insurance-pricing",)}),
    ("annex3-5d", "annex3-5d", "Annex III, point 5(d)", "Emergency calls, dispatch, triage.",
     {"domain": ESSENTIAL + ("health",), "purpose": ("emergency-response",)}),
    ("annex3-6a", "annex3-6a", "Annex III, point 6(a)", "Risk of becoming a crime victim, for law enforcement.",
     {"domain": ("law-enforcement",), "purpose": ("victim-risk-assessment",), "context": LE}),
    ("annex3-6b", "annex3-6b", "Annex III, point 6(b)", "Polygraphs and similar tools, for law enforcement.",
     {"domain": ("law-enforcement",), "purpose": ("detecting-lies",), "context": LE}),
    ("annex3-6b-capability", "annex3-6b", "Annex III, point 6(b)", "Lie detection as a capability, for law enforcement.",
     {"domain": ("law-enforcement",), "capability": ("lie-detection",), "context": LE}),
    ("annex3-6c", "annex3-6c", "Annex III, point 6(c)", "Reliability of evidence, for law enforcement.",
     {"domain": ("law-enforcement",), "purpose": ("evidence-reliability",), "context": LE}),
    ("annex3-6d", "annex3-6d", "Annex III, point 6(d)", "Risk of offending or re-offending, personality traits, past behaviour, for law enforcement.",
     {"domain": ("law-enforcement",), "purpose": ("offending-risk-assessment",), "context": LE}),
    ("annex3-6e", "annex3-6e", "Annex III, point 6(e)", "Profiling in detecting, investigating or prosecuting offences.",
     {"domain": ("law-enforcement",), "purpose": ("crime-detection-investigation",), "capability": ("profiling",), "context": LE}),
    ("annex3-7a", "annex3-7a", "Annex III, point 7(a)", "Polygraphs and similar tools, for migration, asylum or border authorities.",
     {"domain": ("migration-asylum-border",), "purpose": ("detecting-lies",), "context": MIG}),
    ("annex3-7a-capability", "annex3-7a", "Annex III, point 7(a)", "Lie detection as a capability, for migration, asylum or border authorities.",
     {"domain": ("migration-asylum-border",), "capability": ("lie-detection",), "context": MIG}),
    ("annex3-7b", "annex3-7b", "Annex III, point 7(b)", "Security, irregular-migration or health risk of people entering.",
     {"domain": ("migration-asylum-border",), "purpose": ("migration-risk-assessment",), "context": MIG}),
    ("annex3-7c", "annex3-7c", "Annex III, point 7(c)", "Examining asylum, visa and residence applications.",
     {"domain": ("migration-asylum-border",), "purpose": ("migration-application-examination",), "context": MIG}),
    ("annex3-7d", "annex3-7d", "Annex III, point 7(d)", "Detecting, recognising or identifying people (not travel document checks).",
     {"domain": ("migration-asylum-border",), "purpose": ("person-identification",), "context": MIG}),
    ("annex3-8a", "annex3-8a", "Annex III, point 8(a)", "Assisting judicial authorities with facts and law, or dispute resolution.",
     {"domain": ("justice",), "purpose": ("legal-research-application",), "context": ("judicial-authority",)}),
    ("annex3-8b", "annex3-8b", "Annex III, point 8(b)", "Influencing elections, referendums or voting (not campaign logistics).",
     {"domain": ("democratic-processes",), "purpose": ("influencing-elections",)}),
    ("art5-1a", "art5-1a", "Art 5(1)(a)", "Subliminal, manipulative or deceptive techniques distorting behaviour.",
     {"purpose": ("behaviour-distortion",), "capability": ("subliminal-techniques",)}),
    ("art5-1b", "art5-1b", "Art 5(1)(b)", "Exploiting vulnerabilities of age, disability or social or economic situation.",
     {"purpose": ("behaviour-distortion",), "capability": ("vulnerability-exploitation",), "subject": ("children", "vulnerable-persons", "persons-with-disabilities")}),
    ("art5-1c", "art5-1c", "Art 5(1)(c)", "Social scoring leading to detrimental treatment.",
     {"purpose": ("social-scoring",)}),
    ("art5-1d", "art5-1d", "Art 5(1)(d)", "Predicting crime by a person solely from profiling or personality traits.",
     {"purpose": ("crime-prediction",), "capability": ("profiling",)}),
    ("art5-1e", "art5-1e", "Art 5(1)(e)", "Facial recognition databases by untargeted scraping.",
     {"purpose": ("facial-database-building",), "capability": ("web-scraping",)}),
    ("art5-1f", "art5-1f", "Art 5(1)(f)", "Emotion recognition at work or in education (not medical or safety).",
     {"domain": ("employment", "education"), "purpose": ("recognising-emotions",), "capability": ("emotion-recognition",)}),
    ("art5-1g", "art5-1g", "Art 5(1)(g)", "Biometric categorisation inferring race, politics, union membership, beliefs, sex life or orientation.",
     {"purpose": ("inferring-special-categories",), "capability": ("biometric-categorisation",)}),
    ("art5-1h", "art5-1h", "Art 5(1)(h)", "Real-time remote biometric identification in public spaces for law enforcement (its exceptions are not modelled).",
     {"domain": ("law-enforcement",), "purpose": ("remote-identification",), "capability": ("real-time-remote-biometric-identification",), "context": ("publicly-accessible-space",)}),
    ("art5-1ba", "art5-1ba", "Art 5(1)(ba), inserted by Regulation (EU) 2026/1744", "Non-consensual intimate imagery of identifiable people.",
     {"purpose": ("intimate-imagery-generation",), "capability": ("image-video-audio-generation",)}),
    ("art5-1bb", "art5-1bb", "Art 5(1)(bb), inserted by Regulation (EU) 2026/1744", "Child sexual abuse material.",
     {"purpose": ("child-sexual-abuse-material",), "capability": ("image-video-audio-generation",)}),
]

LISTS = {"domain": USE_DOMAINS, "purpose": USE_PURPOSES, "capability": USE_CAPABILITIES,
         "subject": USE_SUBJECTS, "context": USE_CONTEXTS}
REQUIRES = {"domain": "requiresDomain", "purpose": "requiresPurpose", "capability": "requiresCapability",
            "subject": "requiresSubject", "context": "requiresContext"}


def q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"@en'


def turtle() -> str:
    for dim, values in LISTS.items():
        assert tuple(TERMS[dim]) == values, f"{dim}: table and schema.py disagree"
    out = ["""# aimsgraph catalogue: what an AI system does, as the closed lists of the register's
# `ai_systems[].uses` (domain, purpose, capabilities, subjects, context), aligned to VAIR
# (Golpayegani et al., https://w3id.org/vair) with skos:exactMatch / skos:narrowMatch, and the
# descriptor conditions from which rules derive candidate Annex III points and Art 5(1) practices.
# Generated by scripts/use_descriptors.py; summaries are our own words, not the Act's text.

@prefix aims: <https://w3id.org/aimsgraph/ontology#> .
@prefix aimsuse: <https://w3id.org/aimsgraph/use/> .
@prefix euaia: <https://w3id.org/aimsgraph/eu-ai-act/> .
@prefix vair: <https://w3id.org/vair#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
"""]
    for dim, (key, label, airo) in DIMENSIONS.items():
        out.append(f"""aimsuse:{SCHEMES[dim]} a skos:ConceptScheme ;
    rdfs:label {q("Use descriptors: " + label)} ;
    skos:definition {q(f"The values of the register key uses[].{key}; AIRO data gives them through {airo}.")} ;
    dcterms:source "aimsgraph register format; VAIR (https://w3id.org/vair)" .
""")
        for value, (summary, exact, narrower) in TERMS[dim].items():
            lines = [f"aimsuse:{dim}-{value} a skos:Concept, aims:UseDescriptor ;",
                     f'    skos:notation "{value}" ;',
                     f"    rdfs:label {q(value.replace('-', ' '))} ;",
                     f"    skos:definition {q(summary)} ;",
                     f"    skos:inScheme aimsuse:{SCHEMES[dim]} ;",
                     f"    skos:topConceptOf aimsuse:{SCHEMES[dim]} ;"]
            if exact:
                lines.append(f"    skos:exactMatch vair:{exact} ;")
            if narrower:
                lines.append("    skos:narrowMatch " + ", ".join(f"vair:{n}" for n in narrower) + " ;")
            lines.append('    dcterms:source "VAIR (https://w3id.org/vair)" .' if exact or narrower
                         else '    dcterms:source "aimsgraph (VAIR has no matching term)" .')
            out.append("\n".join(lines) + "\n")
    out.append("# ---------------------------------------------------------- descriptor conditions\n")
    for cid, target, source, summary, requires in CONDITIONS:
        lines = [f"euaia:cond-{cid} a aims:DescriptorCondition ;",
                 f"    rdfs:label {q('Descriptor condition for ' + source)} ;",
                 f"    skos:definition {q(summary)} ;",
                 f"    aims:derivesClassification euaia:{target} ;"]
        for dim, values in requires.items():
            for v in values:
                assert v in TERMS[dim], (cid, dim, v)
            lines.append(f"    aims:{REQUIRES[dim]} " + ", ".join(f"aimsuse:{dim}-{v}" for v in values) + " ;")
        src = f"Regulation (EU) 2024/1689, {source}"
        lines.append(f"    dcterms:source {q(src)[:-3]} .")
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def markdown() -> str:
    rows = []
    for cid, target, source, summary, requires in CONDITIONS:
        cells = []
        for dim in ("domain", "purpose", "capability", "subject", "context"):
            cells.append(", ".join(f"`{v}`" for v in requires.get(dim, ())) or "–")
        rows.append(f"| `euaia:{target}` | {summary} | " + " | ".join(cells) + f" | {source} |")
    return "\n".join(rows)


if __name__ == "__main__":
    (ROOT / "ontology" / "catalogues" / "use-descriptors.ttl").write_text(turtle(), encoding="utf-8")
    table = markdown()
    doc = ROOT / "docs" / "classification.md"
    text = doc.read_text(encoding="utf-8") if doc.exists() else "<!-- conditions -->\n<!-- /conditions -->\n"
    head, _, rest = text.partition("<!-- conditions -->\n")
    _, _, tail = rest.partition("<!-- /conditions -->")
    header = ("| derives | in short | domain | purpose | capabilities | subjects | context | source |\n"
              "|---|---|---|---|---|---|---|---|\n")
    doc.write_text(f"{head}<!-- conditions -->\n{header}{table}\n<!-- /conditions -->{tail}", encoding="utf-8")
